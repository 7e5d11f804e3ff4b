"""Export: ONNX with dynamic batch and ferkit metadata."""

from ferkit.export.onnx import export_onnx, max_abs_difference

__all__ = ["export_onnx", "max_abs_difference"]
