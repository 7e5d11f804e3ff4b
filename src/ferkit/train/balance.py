"""Class-imbalance handling for training (``balance`` in the config).

- ``class_weights``: weighted cross-entropy (the ``class_weights`` mode, ``balanced`` when that is ``none``).
- ``sampler``: each epoch draws as many training images as there are, with replacement, each with a
  probability inversely proportional to its class's frequency (as ``torch.utils.data.WeightedRandomSampler``),
  from the trainer's seeded generator.
- ``ros``, ``smote``, ``smote_tomek``, ``smote_enn``: imbalanced-learn's RandomOverSampler, SMOTE, SMOTETomek
  or SMOTEENN (``random_state`` = seed) on the training images only (flattened pixels; SMOTE variants
  optionally in a PCA space of ``balance_pca`` components), giving a new training set of uint8 images.
  Validation and test images are never passed in. Results are cached in the run folder
  (``balance_cache_<key>.npz``, keyed by the training content, method, PCA size and seed).

imbalanced-learn is an optional extra (``pip install ferkit[imbalance]``), imported only when needed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ferkit.core.errors import InputError, OptionError

log = logging.getLogger("ferkit.train")

BALANCE = ("none", "class_weights", "sampler", "ros", "smote", "smote_tomek", "smote_enn")
#: the methods that make a new training set
RESAMPLERS = ("ros", "smote", "smote_tomek", "smote_enn")
SMOTE_METHODS = ("smote", "smote_tomek", "smote_enn")
#: SMOTE's default number of neighbours
SMOTE_K = 5
#: rows per neighbour search (one progress-bar step)
NEIGHBOUR_CHUNK = 1024
_CACHE_VERSION = "1"


def class_counts(labels: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    return {str(c): int(n) for c, n in zip(classes, counts)}


def sampler_order(labels: np.ndarray, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Positions into ``labels`` for one epoch: ``n`` (default ``len(labels)``) draws with replacement,
    each with probability proportional to 1 / (its class's count), so each present class is drawn about
    equally often."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels)
    w = 1.0 / counts[labels]
    return rng.choice(len(labels), size=len(labels) if n is None else n, replace=True, p=w / w.sum())


def cache_key(images: np.ndarray, labels: np.ndarray, method: str, pca: int, seed: int) -> str:
    h = hashlib.sha256()
    h.update(repr((_CACHE_VERSION, method, int(pca), int(seed), images.shape, str(images.dtype))).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _import_imblearn():
    try:
        import imblearn  # noqa: F401
    except ImportError as exc:
        raise OptionError(
            "balance = ros, smote, smote_tomek or smote_enn needs imbalanced-learn, which is not installed: "
            "pip install ferkit[imbalance] (or choose balance = none, class_weights or sampler)"
        ) from exc


def _smote_k(labels: np.ndarray, classes: Sequence[str]) -> int:
    """SMOTE's k_neighbors for these labels: 5, lowered to (smallest class - 1) when that is smaller."""
    counts = np.bincount(labels, minlength=len(classes))
    present = np.flatnonzero(counts)
    smallest = present[np.argmin(counts[present])]
    n = int(counts[smallest])
    if n < 2:
        raise InputError(
            f"SMOTE needs at least 2 training images in every class: class {classes[smallest]!r} has {n} "
            "in the training split; use balance = ros, sampler or class_weights, or add images"
        )
    k = min(SMOTE_K, n - 1)
    if k < SMOTE_K:
        log.info("balance: class %r has only %d training images: SMOTE k_neighbors lowered from %d to %d",
                 classes[smallest], n, SMOTE_K, k)
    return k


def progress_neighbors(n_neighbors: int, desc: str, progress: bool):
    """A scikit-learn NearestNeighbors whose ``kneighbors`` searches in chunks under a progress bar: the
    neighbour searches are what makes SMOTE and its cleaning steps take minutes on 28k faces."""
    from sklearn.neighbors import NearestNeighbors

    class ProgressNeighbors(NearestNeighbors):
        def __init__(self, n_neighbors=5, *, algorithm="auto", n_jobs=None, desc="neighbours", progress=False):
            super().__init__(n_neighbors=n_neighbors, algorithm=algorithm, n_jobs=n_jobs)
            self.desc, self.progress = desc, progress

        def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
            if X is None or len(X) <= NEIGHBOUR_CHUNK:
                return super().kneighbors(X, n_neighbors, return_distance)
            parts = []
            for start in tqdm(range(0, len(X), NEIGHBOUR_CHUNK), desc=self.desc, unit="chunk",
                              disable=not self.progress, leave=False):
                parts.append(super().kneighbors(X[start : start + NEIGHBOUR_CHUNK], n_neighbors, return_distance))
            if return_distance:
                return np.concatenate([d for d, _ in parts]), np.concatenate([i for _, i in parts])
            return np.concatenate(parts)

    return ProgressNeighbors(n_neighbors, desc=desc, progress=progress)


def _fit_resample(method: str, x: np.ndarray, labels: np.ndarray, k: int, seed: int,
                  progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """imbalanced-learn's resampler for ``method``, its neighbour searches under progress bars.
    SMOTE-Tomek and SMOTE-ENN are SMOTE followed by imbalanced-learn's Tomek-link or ENN cleaning of
    every class, as its SMOTETomek and SMOTEENN do."""
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import EditedNearestNeighbours, TomekLinks

    if method == "ros":
        return RandomOverSampler(random_state=seed).fit_resample(x, labels)
    smote = SMOTE(k_neighbors=progress_neighbors(k + 1, "SMOTE neighbours", progress), random_state=seed)
    x_new, y_new = smote.fit_resample(x, labels)
    if method == "smote_tomek":
        nn = progress_neighbors(2, "Tomek links", progress).fit(x_new)
        nearest = nn.kneighbors(x_new, return_distance=False)[:, 1]
        keep = np.flatnonzero(~TomekLinks.is_tomek(y_new, nearest, np.unique(y_new)))
        return x_new[keep], y_new[keep]
    if method == "smote_enn":
        enn = EditedNearestNeighbours(sampling_strategy="all",
                                      n_neighbors=progress_neighbors(4, "ENN neighbours", progress))
        return enn.fit_resample(x_new, y_new)
    return x_new, y_new


def _resample(images: np.ndarray, labels: np.ndarray, classes: Sequence[str], method: str, pca: int,
              seed: int, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The resampling itself (no cache): new uint8 images of the same size, and their labels."""
    _import_imblearn()
    n, shape = len(images), images.shape[1:]
    k = _smote_k(labels, classes) if method in SMOTE_METHODS else 0
    if len(np.unique(labels)) < 2:
        raise InputError(f"balance = {method} needs at least 2 classes in the training split")
    flat = images.reshape(n, -1)
    if method == "ros":  # copies of existing images: no need for floats
        x_new, y_new = _fit_resample(method, flat, labels, k, seed, progress)
        return np.ascontiguousarray(x_new, dtype=np.uint8).reshape(-1, *shape), np.asarray(y_new, dtype=np.int64)
    x = flat.astype(np.float32)
    if pca:
        from sklearn.decomposition import PCA

        if pca > min(x.shape):
            raise OptionError(f"balance_pca = {pca} is more than the training split allows "
                              f"(at most min(images, pixels) = {min(x.shape)})")
        proj = PCA(n_components=pca, random_state=seed).fit(x)
        z = proj.transform(x)
        z_new, y_new = _fit_resample(method, z, labels, k, seed, progress)
        # original rows come back unchanged (cleaning only drops rows): keep their exact pixels;
        # only the synthetic rows are inverse-transformed
        where = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(z))}
        out = np.empty((len(z_new), x.shape[1]), dtype=np.float32)
        original = np.array([where.get(row.tobytes(), -1) for row in np.ascontiguousarray(z_new)], dtype=np.int64)
        out[original >= 0] = x[original[original >= 0]]
        if (original < 0).any():
            out[original < 0] = proj.inverse_transform(z_new[original < 0])
        x_new = out
    else:
        x_new, y_new = _fit_resample(method, x, labels, k, seed, progress)
    x_new = np.clip(np.rint(x_new), 0, 255).astype(np.uint8).reshape(-1, *shape)
    return x_new, np.asarray(y_new, dtype=np.int64)


def resample(images: np.ndarray, labels: np.ndarray, classes: Sequence[str], method: str, *, pca: int = 0,
             seed: int = 0, out: str | Path | None = None, progress: bool = False
             ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A resampled training set (``images`` uint8 (n, h, w), ``labels``) and its record
    ``{"method", "before", "after", "seconds", "cached"}``. With ``out``, the result is cached there as
    ``balance_cache_<key>.npz`` and a later call with the same training content, method, pca and seed
    loads it. The inputs are not modified. ``progress`` shows the neighbour searches' progress bars."""
    if method not in RESAMPLERS:
        raise OptionError(f"resample: method must be one of {', '.join(RESAMPLERS)}; got {method!r}")
    if pca and method not in SMOTE_METHODS:
        raise OptionError(f"balance_pca applies to the SMOTE variants, not balance = {method}")
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    t0 = time.time()
    before = class_counts(labels, classes)
    cache = None
    if out is not None:
        cache = Path(out) / f"balance_cache_{cache_key(images, labels, method, pca, seed)}.npz"
    x_new = y_new = None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as z:
                x_new, y_new = z["images"], z["labels"].astype(np.int64)
            log.info("balance: %s training set loaded from the cache %s", method, cache)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("balance: unreadable cache %s (%s): resampling again", cache, exc)
            x_new = y_new = None
    cached = x_new is not None
    if not cached:
        log.info("balance: resampling %d training images with %s%s ...", len(labels), method,
                 f" in a {pca}-component PCA space" if pca else "")
        x_new, y_new = _resample(images, labels, classes, method, pca, seed, progress)
        log.info("balance: %s done in %.1fs", method, time.time() - t0)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp")
            with tmp.open("wb") as fh:
                np.savez(fh, images=x_new, labels=y_new)
            os.replace(tmp, cache)
    record = {"method": method, "before": before, "after": class_counts(y_new, classes),
              "seconds": round(time.time() - t0, 3), "cached": cached}
    lost = [c for c, n in before.items() if n and not record["after"][c]]
    if lost:
        log.warning("balance: %s removed every training image of %s (cleaning drops images whose neighbours are "
                    "of other classes): consider balance = smote or ros", method, ", ".join(map(repr, lost)))
    return x_new, y_new, record


def log_counts(record: dict[str, Any]) -> None:
    log.info("balance %s: class counts before %s, after %s", record["method"],
             json.dumps(record["before"]), json.dumps(record["after"]))


def write_record(out: str | Path, record: dict[str, Any]) -> Path:
    path = Path(out) / "balance.json"
    path.write_text(json.dumps(record, indent=2))
    return path
