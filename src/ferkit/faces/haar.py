"""OpenCV's Haar cascade frontal face detector (the cascades ship with opencv-python 4.x)."""

from __future__ import annotations

import cv2
import numpy as np

from ferkit.faces.detection import Detection, DetectorOptions, finalize
from ferkit.faces.registry import register_detector

CASCADE = "haarcascade_frontalface_default.xml"


def _cascade_path(name: str) -> str:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(cv2, "CascadeClassifier"):
        raise ImportError(
            "this OpenCV has no Haar cascades (OpenCV 5 dropped them); install opencv-python-headless<5"
        )
    return data.haarcascades + name


class HaarDetector:
    """Haar cascades give no probability; the score is a logistic of the cascade's final-stage
    weight, so the default 0.5 threshold keeps what OpenCV itself keeps."""

    name = "haar"

    def __init__(self, options: DetectorOptions, cascade: str = CASCADE, scale_factor: float = 1.1,
                 min_neighbors: int = 5):
        self.options = options
        self.classifier = cv2.CascadeClassifier(_cascade_path(cascade))
        if self.classifier.empty():
            raise ValueError(f"could not load the Haar cascade {cascade!r}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def detect(self, image: np.ndarray, options: DetectorOptions | None = None) -> list[Detection]:
        options = options or self.options
        image = np.asarray(image)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = 2.0**options.upsample
        if scale != 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        min_side = max(1, int(options.min_face_size * scale))
        boxes, _, weights = self.classifier.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side), outputRejectLevels=True,
        )
        found = []
        for box, weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).ravel()):
            score = float(1.0 / (1.0 + np.exp(-float(weight))))
            found.append(Detection(tuple(float(v) / scale for v in box), score))
        return finalize(found, options, image.shape)


#: crop framing measured on 300 FER2013 faces: `python benchmarks/calibrate_crop.py --data fer2013.npz --n 300`
@register_detector("haar", crop_scale=1.04, crop_shift=(0.0, 0.0))
def haar(options: DetectorOptions, **cfg) -> HaarDetector:
    """OpenCV Haar cascade (frontal face): no landmarks, misses turned and rotated faces."""
    return HaarDetector(options, **cfg)
