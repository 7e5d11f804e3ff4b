"""Inference: preprocessing, the emotion classifier (ONNX Runtime or PyTorch checkpoints) and the
Recognizer (detect, align, classify)."""

from ferkit.infer.classifier import DEFAULT_MODEL, EmotionClassifier, softmax
from ferkit.core.inputs import UnsupportedImageError, array_to_bgr, load_bgr
from ferkit.core.preprocess import TTA_MODES, model_input, tta_views
from ferkit.infer.recognizer import Face, Recognizer, RecognizerOptions

__all__ = [
    "DEFAULT_MODEL",
    "TTA_MODES",
    "EmotionClassifier",
    "Face",
    "Recognizer",
    "RecognizerOptions",
    "UnsupportedImageError",
    "array_to_bgr",
    "load_bgr",
    "model_input",
    "softmax",
    "tta_views",
]
