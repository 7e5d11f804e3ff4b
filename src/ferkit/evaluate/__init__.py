"""Evaluation: metrics, reports and confusion matrices."""

from ferkit.evaluate.evaluator import evaluate, markdown_summary, write_report
from ferkit.evaluate.metrics import classification_metrics, expected_calibration_error

__all__ = ["classification_metrics", "evaluate", "expected_calibration_error", "markdown_summary", "write_report"]
