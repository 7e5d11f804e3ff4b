"""Reading image files into grayscale arrays of a fixed size, with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


class ImageReadError(ValueError):
    """An image file that exists but cannot be decoded."""


def read_image(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file; raise :class:`ImageReadError` naming the path when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a directory, not an image")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    if data[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in data[-4096:].tobytes():
        # OpenCV decodes a cut-off JPEG with a grey lower part and only a warning
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(data, flags)
    if image is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt, truncated or not an image format)")
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; uint16 scaled down; bool to 0/255; floats in [0, 1] or [0, 255] scaled and
    rounded; other integers clipped. Raises ValueError for NaN/infinity or other dtypes."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image // 257).astype(np.uint8)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError("float image contains NaN or infinity")
        scale = 255.0 if image.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(image * scale, 0, 255).round().astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise ValueError(f"cannot use an image array of dtype {image.dtype}")


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any uint8/float gray, BGR or BGRA array to uint8 grayscale."""
    image = to_uint8(np.asarray(image))
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"cannot convert an array of shape {image.shape} to grayscale")


def resize_gray(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a grayscale image to ``size`` x ``size`` (area interpolation when shrinking)."""
    if image.shape[:2] == (size, size):
        return image
    shrink = image.shape[0] > size or image.shape[1] > size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def load_gray(path: str | Path, size: int) -> np.ndarray:
    """Read ``path`` as a ``size`` x ``size`` uint8 grayscale image."""
    return resize_gray(to_gray(read_image(path)), size)
