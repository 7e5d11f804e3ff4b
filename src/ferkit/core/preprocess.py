"""Model input preprocessing shared by evaluation and inference (NumPy only, no PyTorch).

A model's preprocessing is a small dict saved in every checkpoint and exported ONNX model::

    {"image_size": 48, "input_size": 40, "mean": 0.51, "std": 0.25}

Faces are grayscale, resized to ``image_size`` x ``image_size``; the model sees the centre
``input_size`` crop scaled to [0, 1] then normalised by ``mean`` and ``std``.
"""

from __future__ import annotations

import numpy as np

TTA_MODES = ("none", "flip", "ten_crop")


def check_preprocess(pre: dict) -> dict:
    need = {"image_size", "input_size", "mean", "std"}
    if not need <= set(pre):
        raise ValueError(f"preprocess spec needs {sorted(need)}, got {sorted(pre)}")
    if pre["input_size"] > pre["image_size"]:
        raise ValueError("input_size must not exceed image_size")
    return pre


def _normalise(crops: np.ndarray, pre: dict) -> np.ndarray:
    x = crops.astype(np.float32) / 255.0
    x = (x - np.float32(pre["mean"])) / np.float32(pre["std"])
    return np.ascontiguousarray(x[:, None, :, :])


def _crop(images: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    return images[:, top : top + size, left : left + size]


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size`` x ``size`` crop of (N, H, W) images."""
    h, w = images.shape[1:3]
    return _crop(images, (h - size) // 2, (w - size) // 2, size)


def model_input(images: np.ndarray, pre: dict) -> np.ndarray:
    """(N, image_size, image_size) uint8 faces to the (N, 1, s, s) float32 model input."""
    return _normalise(center_crop(_check_images(images, pre), pre["input_size"]), pre)


def tta_views(images: np.ndarray, pre: dict, mode: str = "none") -> list[np.ndarray]:
    """Model inputs for test-time augmentation; the model's outputs are averaged over views.

    ``none``: the centre crop; ``flip``: centre crop and its mirror; ``ten_crop``: the four
    corner crops and the centre crop, each also mirrored (falls back to ``flip`` when the model
    sees the whole image, since there is nothing to crop)."""
    if mode not in TTA_MODES:
        raise ValueError(f"unknown TTA mode {mode!r}; use one of {TTA_MODES}")
    images = _check_images(images, pre)
    s, size = pre["input_size"], pre["image_size"]
    if mode == "ten_crop" and s < size:
        m = size - s
        crops = [center_crop(images, s)] + [_crop(images, t, lft, s) for t in (0, m) for lft in (0, m)]
    else:
        crops = [center_crop(images, s)]
    if mode != "none":
        crops = crops + [c[:, :, ::-1] for c in crops]
    return [_normalise(c, pre) for c in crops]


def _check_images(images: np.ndarray, pre: dict) -> np.ndarray:
    images = np.asarray(images)
    size = pre["image_size"]
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(f"expected (N, {size}, {size}) grayscale faces, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 faces, got {images.dtype}")
    return images
