"""dlib's HOG face detector and 68-point shape predictor (optional: ``pip install ferkit[dlib]``,
which installs dlib-bin and face-recognition-models, whose model files are CC0)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ferkit.faces.detection import Detection, DetectorOptions, finalize
from ferkit.faces.registry import register_detector

PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"


def _need_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ImportError("dlib is not installed; `pip install ferkit[dlib]` (dlib-bin, face-recognition-models)") from exc
    return dlib


def model_file(name: str) -> Path:
    """A model file of the face-recognition-models package, found without importing it (its
    ``__init__`` imports pkg_resources, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face-recognition-models is not installed; `pip install ferkit[dlib]`")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing from face-recognition-models")
    return path


@lru_cache(maxsize=1)
def shape_predictor_68():
    return _need_dlib().shape_predictor(str(model_file(PREDICTOR_68)))


def landmarks_68(gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """68 (x, y) landmarks (iBUG 300-W order) of the face in ``box`` of a uint8 grayscale image.

    Works on any detector's box, and on a face crop with the whole crop as the box (FER2013 and
    CK+ faces)."""
    dlib = _need_dlib()
    x, y, w, h = box
    rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)) - 1, int(round(y + h)) - 1)
    shape = shape_predictor_68()(np.ascontiguousarray(gray), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


class DlibHogDetector:
    """dlib's HOG + linear SVM detector. The score is a logistic of twice the SVM margin, so the
    default 0.5 threshold is dlib's own (margin 0). Faces under about 80 px need ``upsample``."""

    name = "dlib_hog"

    def __init__(self, options: DetectorOptions, landmarks: bool = True):
        self.options = options
        self.detector = _need_dlib().get_frontal_face_detector()
        self.landmarks = landmarks

    def detect(self, image: np.ndarray, options: DetectorOptions | None = None) -> list[Detection]:
        import cv2

        options = options or self.options
        image = np.asarray(image)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        threshold = min(max(options.score_threshold, 1e-6), 1 - 1e-6)
        margin = float(np.log(threshold / (1 - threshold)) / 2)
        rects, margins, _ = self.detector.run(gray, options.upsample, margin)
        found = []
        for rect, m in zip(rects, margins):
            box = (float(rect.left()), float(rect.top()), float(rect.width()), float(rect.height()))
            score = float(1.0 / (1.0 + np.exp(-2.0 * m)))
            pts = landmarks_68(gray, box) if self.landmarks else None
            found.append(Detection(box, score, pts, "ibug68" if pts is not None else None))
        return finalize(found, options, image.shape)


#: crop framing measured on 300 FER2013 faces: `python benchmarks/calibrate_crop.py --data fer2013.npz --n 300`
@register_detector("dlib_hog", landmarks="ibug68", requires="dlib,face_recognition_models",
                   crop_scale=1.28, crop_shift=(0.03, -0.07))
def dlib_hog(options: DetectorOptions, **cfg) -> DlibHogDetector:
    """dlib HOG with the 68-point shape predictor: landmarks for alignment and region crops."""
    return DlibHogDetector(options, **cfg)
