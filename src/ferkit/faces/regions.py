"""Where the eye-and-brow and mouth regions are in aligned faces, for the region model: from dlib's 68
landmarks on the face crop itself (datasets: FER2013, CK+, folders), or from a live detector's landmarks
moved into the crop. A face whose landmarks are missing or implausible gets the fixed-ratio boxes
(:data:`ferkit.core.regions.DEFAULT_REGIONS`) and counts as a fallback."""

from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from ferkit.core.regions import REGION_NAMES, default_regions
from ferkit.faces.align import region_boxes

log = logging.getLogger("ferkit.faces")

#: the margin regions are grown by on every side, as a fraction of their size
REGION_MARGIN = 0.15


def boxes_from_landmarks(landmarks: np.ndarray, scheme: str, image_size: int,
                         margin: float = REGION_MARGIN) -> np.ndarray:
    """(2, 4) boxes in fractions of an ``image_size`` face from its landmarks (in its pixels)."""
    boxes = region_boxes(landmarks, scheme, margin)
    out = np.array([[x, y, x + w, y + h] for x, y, w, h in (boxes[name] for name in REGION_NAMES)],
                   dtype=np.float32)
    return out / np.float32(image_size)


def plausible(boxes: np.ndarray) -> bool:
    """Eyes above the mouth, both of a reasonable size and mostly inside the face."""
    eyes, mouth = boxes
    sizes_ok = all(0.15 <= b[2] - b[0] <= 1.4 and 0.05 <= b[3] - b[1] <= 0.9 for b in boxes)
    inside = all(-0.25 <= v <= 1.25 for v in boxes.ravel())
    return bool(sizes_ok and inside and (eyes[1] + eyes[3]) / 2 < (mouth[1] + mouth[3]) / 2)


def dlib_available() -> bool:
    try:
        from ferkit.faces.dlib_models import shape_predictor_68

        shape_predictor_68()
        return True
    except (ImportError, FileNotFoundError):
        return False


def face_regions(faces: np.ndarray, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Region boxes (N, 2, 4) of (N, S, S) uint8 aligned faces from dlib's 68 landmarks (the whole crop
    as the face box), and (N,) bool: which faces fell back to the fixed-ratio boxes. Without dlib
    (``pip install ferkit[dlib]``) every face falls back, with a warning."""
    faces = np.asarray(faces)
    n, size = len(faces), faces.shape[-1]
    boxes, fallback = default_regions(n), np.ones(n, dtype=bool)
    if n == 0:
        return boxes, fallback
    if not dlib_available():
        log.warning("dlib is not installed (pip install ferkit[dlib]): the region model uses fixed-ratio regions "
                    "for all %d faces", n)
        return boxes, fallback
    from ferkit.faces.dlib_models import landmarks_68

    for i in tqdm(range(n), desc="face landmarks", unit="face", disable=not progress or n < 512):
        found = boxes_from_landmarks(landmarks_68(faces[i], (0, 0, size, size)), "ibug68", size)
        if plausible(found):
            boxes[i], fallback[i] = found, False
    return boxes, fallback


def detection_regions(landmarks: list[np.ndarray | None], schemes: list[str | None],
                      image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Region boxes from landmarks already in aligned-crop pixels (a live detector's, moved into the
    crop); faces without landmarks or with implausible ones get the fixed-ratio boxes."""
    n = len(landmarks)
    boxes, fallback = default_regions(n), np.ones(n, dtype=bool)
    for i, (pts, scheme) in enumerate(zip(landmarks, schemes)):
        if pts is None or scheme is None:
            continue
        found = boxes_from_landmarks(pts, scheme, image_size)
        if plausible(found):
            boxes[i], fallback[i] = found, False
    return boxes, fallback
