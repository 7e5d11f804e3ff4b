"""What of the training split a run trains on: optionally without the near-duplicates of held-out
(validation and test) images, and optionally a stratified subset of a given size (quick studies).

Both only ever remove training images; validation and test are never touched. The counts go into the
run folder (``train_set.json``) and the log."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.errors import InputError
from ferkit.data import FaceDataset
from ferkit.data.duplicates import near_duplicates_of

log = logging.getLogger("ferkit.train")

RECORD_NAME = "train_set.json"
#: pHash bits within which a training image counts as a near-duplicate of a held-out one
NEAR_DUPLICATE_BITS = 5


def held_out_indices(ds: FaceDataset, train_idx: np.ndarray) -> np.ndarray:
    """Every image that is not in the training indices (validation, test, anything held out)."""
    mask = np.ones(len(ds), dtype=bool)
    mask[train_idx] = False
    return np.flatnonzero(mask)


def drop_held_out_near_duplicates(ds: FaceDataset, train_idx: np.ndarray, progress: bool = False,
                                  max_distance: int = NEAR_DUPLICATE_BITS) -> tuple[np.ndarray, dict[str, Any]]:
    """The training indices without those whose image is a near-duplicate (mirrored copies included)
    of a held-out image, and the record of what was dropped (count, per class)."""
    held = held_out_indices(ds, train_idx)
    hit = near_duplicates_of(ds.images[train_idx], ds.images[held], max_distance=max_distance, progress=progress)
    dropped = train_idx[hit]
    per_class = {c: int(n) for c, n in zip(ds.classes, np.bincount(ds.labels[dropped], minlength=len(ds.classes)))}
    record = {"max_distance": max_distance, "mirrored": True, "held_out_images": len(held),
              "dropped": int(hit.sum()), "dropped_per_class": per_class}
    log.info("exclude_test_near_duplicates: dropped %d of %d training images that are near-duplicates of the %d "
             "validation/test images", hit.sum(), len(train_idx), len(held))
    return train_idx[~hit], record


def stratified_limit(labels: np.ndarray, train_idx: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """A seeded subset of ``limit`` training indices with the class proportions of the whole (each
    present class keeps at least one image); all of them when ``limit`` is not smaller."""
    if limit >= len(train_idx):
        return train_idx
    y = labels[train_idx]
    classes, counts = np.unique(y, return_counts=True)
    if limit < len(classes):
        raise InputError(f"train_limit = {limit} is smaller than the {len(classes)} classes in the training split")
    quota = np.maximum(1, np.floor(counts * limit / len(train_idx)).astype(int))
    # hand out what rounding left to the classes with the largest remainders
    remainder = counts * limit / len(train_idx) - np.floor(counts * limit / len(train_idx))
    for i in np.argsort(-remainder):
        if quota.sum() >= limit:
            break
        if quota[i] < counts[i]:
            quota[i] += 1
    while quota.sum() > limit:  # the minimum of one per class overshot
        quota[np.argmax(quota)] -= 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(train_idx[y == c], size=q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def write_record(out: str | Path, record: dict[str, Any]) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / RECORD_NAME).write_text(json.dumps(record, indent=2))
