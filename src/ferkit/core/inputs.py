"""Turning what users pass for an image into a uint8 BGR array, with a clear error otherwise.

Accepted: a path (str or pathlib.Path) to an image file; a NumPy array that is grayscale (H, W) or
(H, W, 1), colour (H, W, 3) or with alpha (H, W, 4), of uint8, uint16 or float type (floats in
[0, 1] or [0, 255]); a PIL image in any mode. Colour arrays are taken as BGR (OpenCV's order)
unless ``color_order="rgb"``; PIL images are always RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ferkit.core.images import read_image, to_uint8

COLOR_ORDERS = ("bgr", "rgb")


class UnsupportedImageError(TypeError):
    """An input that is not an image ferkit can take."""


def _to_uint8(array: np.ndarray) -> np.ndarray:
    try:
        return to_uint8(array)
    except ValueError as exc:
        raise UnsupportedImageError(str(exc)) from exc


def array_to_bgr(array: np.ndarray, color_order: str = "bgr") -> np.ndarray:
    """A gray/BGR/RGB/BGRA/RGBA array of any accepted dtype as a contiguous uint8 BGR array."""
    if color_order not in COLOR_ORDERS:
        raise ValueError(f"color_order must be one of {COLOR_ORDERS}, got {color_order!r}")
    array = np.asarray(array)
    if array.size == 0:
        raise UnsupportedImageError(f"empty image array of shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UnsupportedImageError(
            f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    array = _to_uint8(array)
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        code = cv2.COLOR_RGBA2BGR if color_order == "rgb" else cv2.COLOR_BGRA2BGR
        return cv2.cvtColor(array, code)
    if color_order == "rgb":
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(array)


def load_bgr(image, color_order: str = "bgr") -> np.ndarray:
    """Any accepted input (see the module's doc) as a uint8 BGR array."""
    if isinstance(image, (str, Path)):
        return array_to_bgr(read_image(image), "bgr")
    if isinstance(image, np.ndarray):
        return array_to_bgr(image, color_order)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        rgb = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        return array_to_bgr(np.asarray(rgb), "rgb")
    raise UnsupportedImageError(
        f"cannot analyse a {type(image).__name__}: pass a file path, a NumPy image array or a PIL image"
    )
