"""ferkit: facial expression recognition toolkit."""

from ferkit.core.labels import EMOTIONS, SENTIMENTS

__version__ = "0.2.0"
_API = ("Face", "FrameResult", "ImageResult", "Recognizer", "RecognizerOptions", "VideoOptions", "read_results")
__all__ = ["EMOTIONS", "SENTIMENTS", "__version__", *_API]


def __getattr__(name: str):
    # The Recognizer loads OpenCV and ONNX Runtime; `import ferkit` (and `ferkit --version`) should not.
    if name in _API:
        from ferkit import infer

        return getattr(infer, name)
    raise AttributeError(f"module 'ferkit' has no attribute {name!r}")
