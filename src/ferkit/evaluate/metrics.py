"""Classification metrics from true labels and predicted probabilities (scikit-learn underneath)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from ferkit.core.errors import InputError


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - confidence| x share."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (predictions of absent classes count as
    errors; scikit-learn warns about them, which is expected in cross-dataset use)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(balanced_accuracy_score(y_true, y_pred))


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """accuracy, balanced accuracy and macro-F1 (over the classes present in ``y_true``) of predicted
    labels: the per-epoch validation figures of training, computed as the full reports compute them."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    present = np.flatnonzero(np.bincount(y_true, minlength=n_classes) > 0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict:
    """accuracy, balanced_accuracy, macro_f1, top-k, per-class precision/recall/F1, ECE, confusion matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes) or len(probs) != len(y_true):
        raise ValueError(f"probs must be (N, {len(classes)}) for {len(y_true)} labels, got {probs.shape}")
    if len(y_true) == 0:
        raise InputError("no samples to evaluate")
    if y_true.min() < 0 or y_true.max() >= len(classes):
        raise ValueError(f"y_true must hold class indices in 0..{len(classes) - 1}, got {y_true.min()}..{y_true.max()}")
    labels = np.arange(len(classes))
    y_pred = probs.argmax(axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "n": len(y_true),
        # macro-F1 over the classes present in the ground truth (a dataset lacking a class does not
        # count it as an F1 of 0)
        **label_metrics(y_true, y_pred, len(classes)),
        "ece": expected_calibration_error(y_true, probs),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(classes),
    }
    # scikit-learn takes a two-class model's scores as the second class's probability
    scores = probs[:, 1] if len(classes) == 2 else probs
    for k in (1, 2, 3):
        if k < len(classes):
            out[f"top{k}_accuracy"] = float(top_k_accuracy_score(y_true, scores, k=k, labels=labels))
    return out
