"""Auxiliary training data (``extra_train`` in the config): other datasets whose images, of every split
they have, are mapped to the main dataset's classes by name and added to its training split only.
Images of classes the model lacks are dropped and counted; validation and test are never touched."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.labels import label_mapping
from ferkit.data import FaceDataset, load_dataset

log = logging.getLogger("ferkit.train")

RECORD_NAME = "extra_train.json"


def check_extra_paths(paths: Sequence[str]) -> None:
    """A MissingInputError for the first extra dataset path that does not exist (before anything loads)."""
    for p in paths:
        if not Path(p).expanduser().exists():
            raise MissingInputError(f"extra_train {p}: no such file or folder")


def _mapping(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """label_mapping by canonical emotion names; datasets with other class names are matched exactly."""
    try:
        return label_mapping(source, target)
    except KeyError:
        index = {str(c).strip().lower(): i for i, c in enumerate(target)}
        return np.array([index.get(str(c).strip().lower(), -1) for c in source], dtype=np.int64)


def extra_training_set(paths: Sequence[str], classes: Sequence[str], image_size: int,
                       progress: bool = False) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The extra training images (uint8, (n, image_size, image_size)), their labels in ``classes``'
    order, and one record per dataset ``{"path", "name", "images", "added", "dropped", "classes"}``."""
    check_extra_paths(paths)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    for p in paths:
        ds: FaceDataset = load_dataset(p, size=image_size, progress=progress)
        for problem in ds.problems:
            log.warning("extra_train %s: skipped %s", p, problem)
        if ds.image_size != (image_size, image_size):
            raise OptionError(f"extra_train {p}: images are {ds.image_size}, config image_size is {image_size}")
        mapping = _mapping(ds.classes, classes)
        if not (mapping >= 0).any():
            raise InputError(f"extra_train {p}: no class in common with the model's classes {list(classes)} "
                             f"(it has {list(ds.classes)})")
        mapped = mapping[np.asarray(ds.labels, dtype=np.int64)]
        keep = mapped >= 0
        counts = np.bincount(np.asarray(ds.labels, dtype=np.int64), minlength=len(ds.classes))
        dropped = {str(c): int(counts[i]) for i, c in enumerate(ds.classes) if mapping[i] < 0}
        images.append(np.ascontiguousarray(ds.images[keep], dtype=np.uint8))
        labels.append(mapped[keep])
        record = {"path": str(p), "name": ds.name, "images": len(ds), "added": int(keep.sum()),
                  "dropped": dropped, "classes": [str(c) for c in ds.classes]}
        records.append(record)
        log.info("extra_train %s: %d of %d images added to the training split%s", p, record["added"],
                 record["images"], f" (dropped {json.dumps(dropped)})" if any(dropped.values()) else "")
    if not images:
        return (np.zeros((0, image_size, image_size), dtype=np.uint8), np.zeros(0, dtype=np.int64), records)
    return np.concatenate(images), np.concatenate(labels).astype(np.int64), records


def write_record(out: str | Path, records: list[dict[str, Any]]) -> Path:
    path = Path(out) / RECORD_NAME
    path.write_text(json.dumps(records, indent=2))
    return path
