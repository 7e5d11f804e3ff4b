"""Face regions for the region ("prior attention") model, as NumPy arrays: (N, 2, 4) boxes
``(x0, y0, x1, y1)`` in fractions of the face image, row 0 the eyes and eyebrows, row 1 the mouth.

The landmark side lives in :mod:`ferkit.faces.regions`; the model side in :mod:`ferkit.models.regions`."""

from __future__ import annotations

import numpy as np

REGION_NAMES = ("eyes", "mouth")
#: fixed-ratio boxes used when a face has no usable landmarks: the mean dlib 68-point regions (15% margin)
#: over 2,000 FER2013 training faces (python benchmarks/region_boxes.py)
DEFAULT_REGIONS = ((0.051, 0.154, 0.925, 0.446), (0.287, 0.681, 0.701, 0.871))


def default_regions(n: int) -> np.ndarray:
    """(n, 2, 4) float32 copies of :data:`DEFAULT_REGIONS`."""
    return np.broadcast_to(np.asarray(DEFAULT_REGIONS, dtype=np.float32), (n, 2, 4)).copy()


def mirror_regions(regions: np.ndarray) -> np.ndarray:
    """The boxes of the horizontally mirrored faces (eyes stay eyes, the mouth stays the mouth)."""
    out = np.array(regions, dtype=np.float32, copy=True)
    out[..., 0], out[..., 2] = 1.0 - regions[..., 2], 1.0 - regions[..., 0]
    return out


def regions_in_crop(regions: np.ndarray, image_size: int, top: int, left: int, size: int) -> np.ndarray:
    """Boxes given in fractions of an ``image_size`` face, in fractions of its ``size`` crop at (top, left)."""
    out = np.array(regions, dtype=np.float32, copy=True)
    out[..., [0, 2]] = (regions[..., [0, 2]] * image_size - left) / size
    out[..., [1, 3]] = (regions[..., [1, 3]] * image_size - top) / size
    return out


def check_regions(regions: np.ndarray, n: int) -> np.ndarray:
    """``regions`` as (n, 2, 4) float32, or a ValueError saying what is wrong."""
    r = np.asarray(regions, dtype=np.float32)
    if r.shape != (n, 2, 4):
        raise ValueError(f"regions must be (N, 2, 4) boxes (x0, y0, x1, y1) for {n} faces, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("regions hold NaN or infinite values")
    return r


def region_views(regions: np.ndarray, pre: dict, mode: str = "none") -> list[np.ndarray]:
    """The boxes of each test-time view :func:`ferkit.core.preprocess.tta_views` makes, in the same
    order: ``regions`` are fractions of the ``image_size`` face, each view's in fractions of its crop."""
    s, size = int(pre["input_size"]), int(pre["image_size"])
    if mode == "ten_crop" and s < size:
        m = size - s
        offsets = [((size - s) // 2, (size - s) // 2)] + [(t, lft) for t in (0, m) for lft in (0, m)]
    else:
        offsets = [((size - s) // 2, (size - s) // 2)]
    views = [regions_in_crop(regions, size, t, lft, s) for t, lft in offsets]
    if mode != "none":
        views = views + [mirror_regions(v) for v in views]
    return views
