"""Face detection (a registry of offline backends), landmarks, alignment and region crops."""

from ferkit.faces import blazeface, dlib_models, haar  # noqa: F401  (register the backends)
from ferkit.faces.detection import LANDMARK_SCHEMES, MAX_UPSAMPLE, Detection, DetectorOptions, iou_matrix, weighted_nms
from ferkit.faces.registry import (
    Detector,
    DetectorEntry,
    FaceDetector,
    create_detector,
    detector_entry,
    list_detectors,
    register_detector,
)

__all__ = [
    "LANDMARK_SCHEMES",
    "MAX_UPSAMPLE",
    "Detection",
    "Detector",
    "DetectorEntry",
    "DetectorOptions",
    "FaceDetector",
    "create_detector",
    "detector_entry",
    "iou_matrix",
    "list_detectors",
    "register_detector",
    "weighted_nms",
]
