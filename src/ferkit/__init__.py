"""ferkit: facial expression recognition toolkit."""

from ferkit.core.labels import EMOTIONS, SENTIMENTS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "SENTIMENTS", "Face", "Recognizer", "RecognizerOptions", "__version__"]

_LAZY = {"Face", "Recognizer", "RecognizerOptions"}


def __getattr__(name: str):
    # the Recognizer pulls in OpenCV and ONNX Runtime; import them only when it is asked for
    if name in _LAZY:
        from ferkit import infer

        return getattr(infer, name)
    raise AttributeError(f"module 'ferkit' has no attribute {name!r}")
