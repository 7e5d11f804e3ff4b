"""ferkit: facial expression recognition toolkit."""

from ferkit.labels import EMOTIONS, SENTIMENTS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "SENTIMENTS", "__version__"]
