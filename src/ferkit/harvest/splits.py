"""Train/val/test splits grouped by video: every face of a video goes to one split, and videos are given
to splits so that each class is shared out as near the target fractions as whole videos allow.

Videos already in a dataset keep their split; new ones are placed one by one, largest first, each in the
split that leaves the smallest total deviation from the targets (summed over classes and splits)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


def deviation(totals: np.ndarray, fractions: np.ndarray) -> float:
    """Sum over splits and classes of |count - fraction x class total|; ``totals`` is (splits, classes)."""
    return float(np.abs(totals - fractions[:, None] * totals.sum(axis=0, keepdims=True)).sum())


def assign_splits(new: Mapping[str, Mapping[str, int]], existing: Mapping[str, Mapping[str, int]],
                  classes: list[str], val_fraction: float, test_fraction: float) -> dict[str, str]:
    """``new``: video -> class counts of its kept faces; ``existing``: split -> class counts already in the
    dataset. Returns video -> split for the new videos (a video without kept faces gets none)."""
    fractions = np.array([1.0 - val_fraction - test_fraction, val_fraction, test_fraction])
    totals = np.array([[existing.get(s, {}).get(c, 0) for c in classes] for s in SPLIT_NAMES], dtype=float)
    order = sorted(new, key=lambda v: (-sum(new[v].values()), v))
    out = {}
    for video in order:
        counts = np.array([new[video].get(c, 0) for c in classes], dtype=float)
        if not counts.any():
            continue
        costs = []
        for i in range(len(SPLIT_NAMES)):
            trial = totals.copy()
            trial[i] += counts
            costs.append(deviation(trial, fractions))
        best = int(np.argmin(costs))  # ties go to the earlier split: train, then val
        totals[best] += counts
        out[video] = SPLIT_NAMES[best]
    return out
