"""What every face detector returns, and the options every detector takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ferkit.core.options import check_float, check_int

#: landmark schemes: number of points and where the eyes and mouth are
LANDMARK_SCHEMES = {
    # BlazeFace: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
    # ("right" is the person's right, which is on the left of the image)
    "blazeface6": {"n": 6, "right_eye": [0], "left_eye": [1], "mouth": [3]},
    # dlib / iBUG 300-W 68 points: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67
    "ibug68": {"n": 68, "right_eye": list(range(36, 42)), "left_eye": list(range(42, 48)), "mouth": list(range(48, 68))},
}


@dataclass
class Detection:
    """One face: ``box`` (x, y, w, h) in pixels of the original image, ``score`` in [0, 1] and,
    where the backend has them, ``landmarks`` (K, 2) in the same pixels with their ``scheme``."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None
    scheme: str | None = None

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def scaled(self, fx: float, fy: float) -> Detection:
        """This detection with box and landmarks multiplied by ``fx`` (x) and ``fy`` (y): from the
        pixels of a resized image to those of the original."""
        x, y, w, h = self.box
        landmarks = None if self.landmarks is None else np.asarray(self.landmarks, dtype=np.float64) * (fx, fy)
        return Detection((x * fx, y * fy, w * fx, h * fy), self.score, landmarks, self.scheme)

    def shifted(self, dx: float, dy: float) -> Detection:
        """This detection moved by (``dx``, ``dy``): from the pixels of a crop to those of its image."""
        x, y, w, h = self.box
        landmarks = None if self.landmarks is None else np.asarray(self.landmarks, dtype=np.float64) + (dx, dy)
        return Detection((x + dx, y + dy, w, h), self.score, landmarks, self.scheme)

    def eye_centers(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(right eye, left eye) centres in image pixels, or None without landmarks."""
        if self.landmarks is None or self.scheme not in LANDMARK_SCHEMES:
            return None
        spec = LANDMARK_SCHEMES[self.scheme]
        pts = np.asarray(self.landmarks, dtype=np.float64)
        return pts[spec["right_eye"]].mean(axis=0), pts[spec["left_eye"]].mean(axis=0)


#: most ``upsample`` steps: each doubles the work (and memory) of the one before; past 2 a large
#: image exhausts memory
MAX_UPSAMPLE = 2


@dataclass
class DetectorOptions:
    """``score_threshold``: keep faces scoring at least this, in [0, 1] (0.5, as the seed analyses
    use); ``min_face_size``: smallest box side in pixels of the image given, >= 1; ``max_faces``:
    keep at most this many, the highest scoring (None: all); ``upsample``: extra effort for small
    faces, 0-2 (0: none; each step roughly doubles the smallest face found and the time taken);
    ``max_side``: an image whose longer side is larger (>= 64) is searched on a copy shrunk to this
    side (area interpolation), boxes and landmarks mapped back to its pixels, so time and memory stay
    bounded; faces under about ``min_face_size`` pixels of the shrunk copy are then missed.
    Backend-specific settings are ``create_detector``'s keyword arguments. Every field is checked
    when the options are made (:class:`~ferkit.core.errors.OptionError`)."""

    score_threshold: float = 0.5
    min_face_size: int = 20
    max_faces: int | None = None
    upsample: int = 0
    max_side: int = 1920

    def __post_init__(self) -> None:
        owner = "DetectorOptions"
        self.score_threshold = check_float(owner, "score_threshold", self.score_threshold, 0.0, 1.0)
        self.min_face_size = check_int(owner, "min_face_size", self.min_face_size, lo=1)
        self.max_faces = check_int(owner, "max_faces", self.max_faces, lo=1, optional=True)
        self.upsample = check_int(owner, "upsample", self.upsample, 0, MAX_UPSAMPLE)
        self.max_side = check_int(owner, "max_side", self.max_side, lo=64)


def finalize(detections: list[Detection], options: DetectorOptions, shape: tuple[int, ...]) -> list[Detection]:
    """Clip boxes to the image, apply the size, score and count limits, sort left to right."""
    height, width = shape[:2]
    kept = []
    for det in detections:
        x, y, w, h = det.box
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(width), x + w), min(float(height), y + h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        if min(w, h) < options.min_face_size or det.score < options.score_threshold:
            continue
        det.box = (x0, y0, x1 - x0, y1 - y0)
        kept.append(det)
    kept.sort(key=lambda d: -d.score)
    if options.max_faces is not None:
        kept = kept[: options.max_faces]
    return sorted(kept, key=lambda d: (d.box[0], d.box[1]))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of (N, 4) and (M, 4) boxes given as x, y, w, h."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(detections: list[Detection], iou: float = 0.3) -> list[Detection]:
    """Merge overlapping detections: each cluster (IoU above ``iou`` with its best member) becomes
    one detection whose box and landmarks are the score-weighted mean and whose score is the best
    (MediaPipe's "weighted" suppression)."""
    if not detections:
        return []
    order = sorted(detections, key=lambda d: -d.score)
    boxes = np.array([d.box for d in order], dtype=np.float64)
    scores = np.array([d.score for d in order])
    overlaps = iou_matrix(boxes, boxes)
    left = np.ones(len(order), dtype=bool)
    merged = []
    for i in range(len(order)):
        if not left[i]:
            continue
        members = np.flatnonzero(left & (overlaps[i] > iou))
        members = members if len(members) else np.array([i])
        left[members] = False
        weights = scores[members] / scores[members].sum()
        box = tuple(float(v) for v in weights @ boxes[members])
        best = order[i]
        landmarks = None
        if best.landmarks is not None and all(order[j].landmarks is not None for j in members):
            landmarks = np.tensordot(weights, np.stack([order[j].landmarks for j in members]), axes=1)
        merged.append(Detection(box, float(scores[i]), landmarks, best.scheme))
    return merged
