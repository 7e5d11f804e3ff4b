"""Leak-free splits: official splits where a dataset has them (FER2013: Training trains,
PublicTest selects, PrivateTest is reported), subject-grouped stratified splits and k-fold otherwise."""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ferkit.core.errors import InputError, OptionError
from ferkit.core.options import check_int
from ferkit.data.dataset import FaceDataset

log = logging.getLogger("ferkit.data")


def group_kfold(ds: FaceDataset, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold in which no group (subject, video) is in two folds."""
    groups = ds.group_ids()
    n_groups = len(np.unique(groups))
    k = check_int("", "folds", k, lo=2)
    if n_groups < k:
        raise OptionError(f"{ds.name}: {n_groups} groups (subjects) cannot make {k} folds; use at most {n_groups}")
    skf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # scikit-learn's "The least populated class in y has only N members" is said once, in ferkit's words
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(skf.split(np.zeros(len(ds)), ds.labels, groups))
    counts = np.bincount(ds.labels, minlength=len(ds.classes))
    few = [(ds.classes[c], int(counts[c])) for c in np.flatnonzero((counts > 0) & (counts < k))]
    if few:
        log.warning("%s: %s, fewer than the %d folds of the split, so some folds have none of %s",
                    ds.name, ", ".join(f"class {name!r} has only {n} images" for name, n in few), k,
                    "it" if len(few) == 1 else "them")
    return splits


def group_split(ds: FaceDataset, val: float = 0.15, test: float = 0.15, seed: int = 0) -> np.ndarray:
    """A ``train``/``val``/``test`` label per image, stratified by class, grouped by ``ds.groups``.

    Fractions are approximate (whole groups move together). ``test=0`` makes train/val only."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise OptionError(f"val and test must be fractions in [0, 1) with val + test < 1, got val={val}, test={test}")
    split = np.full(len(ds), "train", dtype="<U5")
    rest = np.arange(len(ds))
    for name, frac in (("test", test), ("val", val)):
        if frac == 0:
            continue
        share = frac / (1 - (test if name == "val" else 0))
        k = max(2, round(1 / share))
        sub = ds.subset(rest)
        _, held = group_kfold(sub, k=k, seed=seed)[0]
        split[rest[held]] = name
        rest = np.setdiff1d(rest, rest[held])
    return split


def train_val_indices(ds: FaceDataset, val_fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices: the official ones when the dataset has them, else a
    grouped stratified split of the ``train`` part (or of everything)."""
    if ds.has_official_split and (ds.split == "val").any():
        return np.flatnonzero(ds.split == "train"), np.flatnonzero(ds.split == "val")
    pool = np.flatnonzero(ds.split == "train") if ds.has_official_split else np.arange(len(ds))
    split = group_split(ds.subset(pool), val=val_fraction, test=0.0, seed=seed)
    return pool[split == "train"], pool[split == "val"]


def check_no_leak(ds: FaceDataset, a: np.ndarray, b: np.ndarray) -> None:
    """Raise if any group appears in both index sets."""
    if ds.groups is None:
        return
    shared = set(ds.groups[a]) & set(ds.groups[b])
    if shared:
        raise InputError(f"{ds.name}: {len(shared)} groups appear in two splits, e.g. {sorted(shared)[:3]}")
