"""Inference: the emotion classifier (ONNX Runtime, or PyTorch checkpoints), the one detect -> align
-> classify pipeline, streams with tracking and smoothing, the Recognizer over them, and the one
results schema with its table of formats."""

from ferkit.infer.classifier import BUNDLED_MODELS, DEFAULT_MODEL, EmotionClassifier, softmax
from ferkit.infer.options import RecognizerOptions, VideoOptions
from ferkit.infer.recognizer import Recognizer, VideoFrames
from ferkit.infer.results import Face, FrameResult, ImageResult, to_pandas
from ferkit.infer.stream import FaceStream
from ferkit.infer.tables import FORMATS, ResultWriter, read_records, read_results

__all__ = [
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "FORMATS",
    "EmotionClassifier",
    "Face",
    "FaceStream",
    "FrameResult",
    "ImageResult",
    "Recognizer",
    "RecognizerOptions",
    "ResultWriter",
    "VideoFrames",
    "VideoOptions",
    "read_records",
    "read_results",
    "softmax",
    "to_pandas",
]
