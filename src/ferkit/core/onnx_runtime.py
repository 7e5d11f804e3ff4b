"""ONNX Runtime session settings shared by every model ferkit runs (the classifier, the BlazeFace detector)."""

from __future__ import annotations


def session_options(threads: int = 0, spinning: bool = True):
    """``onnxruntime.SessionOptions`` with ``threads`` intra-op threads (0: ONNX Runtime's default, one per
    physical core). ``spinning=False``: idle threads sleep between calls instead of spinning, which is faster
    where one model's small calls alternate with another's (or with PyTorch's) on the same cores."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts
