"""Inference: preprocessing and the emotion classifier (ONNX Runtime or PyTorch checkpoints)."""

from ferkit.infer.classifier import DEFAULT_MODEL, EmotionClassifier, softmax
from ferkit.infer.preprocess import TTA_MODES, model_input, tta_views

__all__ = ["DEFAULT_MODEL", "TTA_MODES", "EmotionClassifier", "model_input", "softmax", "tta_views"]
