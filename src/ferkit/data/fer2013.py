"""FER2013 in the forms users have it: Kaggle's CSV, the npz of the shared data, image folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ferkit.data.dataset import FaceDataset, Problem
from ferkit.core.labels import EMOTIONS

#: FER2013's Usage column and npz ``usage`` codes, mapped to ferkit's split names.
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
USAGE_CODES = ("train", "val", "test")


def load_fer2013_npz(path: str | Path) -> FaceDataset:
    """The npz layout: ``images`` (N,48,48) uint8, ``labels`` 0-6, ``usage`` 0/1/2, optional ``source_id``."""
    path = Path(path)
    with np.load(path) as data:
        missing = {"images", "labels"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (has {data.files})")
        images, labels = data["images"], data["labels"]
        usage = data["usage"] if "usage" in data.files else None
        groups = data["source_id"] if "source_id" in data.files else None
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{path}: images must be (N, H, W) uint8, got {images.shape} {images.dtype}")
    split = None
    if usage is not None:
        if usage.min() < 0 or usage.max() > 2:
            raise ValueError(f"{path}: usage codes must be 0, 1 or 2")
        split = np.array(USAGE_CODES)[usage.astype(np.int64)]
    return FaceDataset(images, labels, EMOTIONS, groups=groups, split=split, name="fer2013")


def load_fer2013_csv(path: str | Path, size: int = 48) -> FaceDataset:
    """Kaggle's ``fer2013.csv``: columns ``emotion,pixels,Usage`` (Usage optional).

    A malformed row is skipped and reported with its line number.
    """
    path = Path(path)
    problems: list[Problem] = []
    images, labels, splits = [], [], []
    n_pixels = size * size
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = {f.strip() for f in reader.fieldnames or []}
        if not {"emotion", "pixels"} <= fields:
            raise ValueError(f"{path}: expected columns emotion,pixels[,Usage], got {reader.fieldnames}")
        for row in reader:
            line = reader.line_num
            where = f"{path}:{line}"
            row = {(k or "").strip(): v for k, v in row.items()}
            try:
                label = int(row["emotion"])
                if not 0 <= label < len(EMOTIONS):
                    raise ValueError(f"emotion {label} not in 0..6")
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
                if pixels.size != n_pixels:
                    raise ValueError(f"{pixels.size} pixel values, expected {n_pixels}")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError("pixel values outside 0..255")
                usage = (row.get("Usage") or "").strip()
                if usage and usage not in USAGE_TO_SPLIT:
                    raise ValueError(f"unknown Usage {usage!r}")
            except (ValueError, TypeError, AttributeError) as exc:
                problems.append(Problem(where, f"malformed row skipped: {exc}"))
                continue
            images.append(pixels.astype(np.uint8).reshape(size, size))
            labels.append(label)
            splits.append(USAGE_TO_SPLIT.get(usage, ""))
    if not images:
        raise ValueError(f"{path}: no usable rows ({len(problems)} malformed)")
    split = np.array(splits)
    return FaceDataset(
        np.stack(images),
        np.array(labels),
        EMOTIONS,
        split=split if np.all(split != "") else None,
        name="fer2013",
        problems=problems,
    )
