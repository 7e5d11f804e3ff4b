"""``ferkit data dedupe``: a copy of a dataset without exact and near-duplicate images.

Images are grouped by exact equality and by perceptual hash (within ``max_distance`` bits, mirrored copies
included). Each group keeps one image: a test image before a validation image before a training image (so a
training image that duplicates a test image is the one dropped), and the first in the dataset's order within a
split. Every image removed is listed with the image it duplicates and why."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferkit.core.errors import OptionError, OutputError
from ferkit.core.labels import EMOTIONS
from ferkit.data.dataset import FaceDataset
from ferkit.data.duplicates import exact_duplicates, near_duplicate_pairs, pair_groups, phash

#: which image of a group is kept first: test, then validation, then training, then unsplit
KEEP_ORDER = {"test": 0, "val": 1, "train": 2, "": 3}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
REMOVED_COLUMNS = ["index", "path", "split", "label", "kind", "bits", "kept_index", "kept_path", "kept_split",
                   "kept_label", "reason"]


def plan_removals(ds: FaceDataset, max_distance: int = 5, progress: bool = False) -> list[dict[str, Any]]:
    """One row per image to remove (see the module docstring and :data:`REMOVED_COLUMNS`)."""
    n = len(ds)
    exact = exact_duplicates(ds.images)
    pairs = near_duplicate_pairs(ds.images, max_distance=max_distance, progress=progress)
    exact_pairs = [(g[0], j) for g in exact for j in g[1:]]
    all_pairs = np.concatenate([pairs, np.array(exact_pairs, dtype=np.int64).reshape(-1, 2)])
    groups = pair_groups(n, all_pairs)
    exact_of = {j: g[0] for g in exact for j in g}
    split = ds.split if ds.split is not None else np.full(n, "", dtype=object)
    hashes = phash(ds.images) if groups else np.zeros(0, dtype=np.uint64)
    mirrors = phash(ds.images[:, :, ::-1]) if groups else np.zeros(0, dtype=np.uint64)
    rows = []
    for group in groups:
        keep = min(group, key=lambda i: (KEEP_ORDER.get(str(split[i]), 3), i))
        for i in sorted(group):
            if i == keep:
                continue
            same = exact_of.get(i) is not None and exact_of.get(i) == exact_of.get(keep)
            bits = 0 if same else int(min(np.bitwise_count(hashes[i] ^ hashes[keep]),
                                          np.bitwise_count(hashes[i] ^ mirrors[keep])))
            reason = ("a training image duplicating a test image" if split[i] == "train" and split[keep] == "test"
                      else "duplicates another image of the dataset")
            if ds.labels[i] != ds.labels[keep]:
                reason += f" (labels differ: {ds.classes[ds.labels[i]]} vs {ds.classes[ds.labels[keep]]})"
            rows.append({
                "index": i, "path": _path(ds, i), "split": str(split[i]), "label": ds.classes[ds.labels[i]],
                "kind": "exact" if same else "near", "bits": bits, "kept_index": keep, "kept_path": _path(ds, keep),
                "kept_split": str(split[keep]), "kept_label": ds.classes[ds.labels[keep]], "reason": reason,
            })
    return sorted(rows, key=lambda r: r["index"])


def _path(ds: FaceDataset, i: int) -> str:
    return str(ds.paths[i]) if ds.paths is not None else ""


def output_paths(out: str | Path) -> tuple[Path, Path]:
    """The clean dataset and the CSV of removals: ``CLEAN.npz`` + ``CLEAN.removed.csv``, or a folder
    ``CLEAN/`` + ``CLEAN/removed.csv``."""
    out = Path(out)
    if out.suffix.lower() == ".npz":
        return out, out.with_suffix(".removed.csv")
    if out.suffix:
        raise OptionError(f"--out must be an .npz file or a folder, got {str(out)!r}")
    return out, out / "removed.csv"


def write_clean(ds: FaceDataset, keep: np.ndarray, out: Path) -> None:
    """The kept images as FER2013's npz layout (images, labels, usage) or as a folder of class folders
    (``split/class/`` when the dataset has splits), PNG files named after the originals."""
    sub = ds.subset(np.flatnonzero(keep))
    if out.suffix.lower() == ".npz":
        if tuple(sub.classes) != tuple(EMOTIONS):
            raise OptionError(f"{ds.name} has classes {list(ds.classes)}; an .npz copy is written in FER2013's layout "
                              "(the seven emotions): give a folder as --out instead")
        arrays = {"images": sub.images, "labels": np.asarray(sub.labels, dtype=np.int64)}
        if sub.split is not None and sub.has_official_split:
            arrays["usage"] = np.array([SPLIT_CODES[s] for s in sub.split], dtype=np.int64)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(out)
        return
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out} exists and is not empty: give a new folder (nothing is written over)")
    names = set()
    for j in range(len(sub)):
        split = str(sub.split[j]) if sub.split is not None else ""
        stem = Path(str(sub.paths[j])).stem if sub.paths is not None else f"{j:06d}"
        rel = Path(split) / sub.classes[sub.labels[j]] / f"{stem}.png"
        while rel in names:  # two originals of one name in one class folder
            rel = rel.with_name(f"{rel.stem}_{j}.png")
        names.add(rel)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out / rel), sub.images[j]):
            raise OutputError(f"{out / rel}: could not be written")


def dedupe_dataset(ds: FaceDataset, out: str | Path, max_distance: int = 5, progress: bool = False
                   ) -> dict[str, Any]:
    """Write ``ds`` without its duplicates to ``out`` and the removals to a CSV beside it; returns counts."""
    data_out, csv_out = output_paths(out)
    rows = plan_removals(ds, max_distance, progress)
    keep = np.ones(len(ds), dtype=bool)
    keep[[r["index"] for r in rows]] = False
    write_clean(ds, keep, data_out)
    csv_out.parent.mkdir(parents=True, exist_ok=True)
    with csv_out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REMOVED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return {"dataset": ds.name, "images": len(ds), "kept": int(keep.sum()), "removed": len(rows),
            "removed_exact": sum(r["kind"] == "exact" for r in rows),
            "removed_near": sum(r["kind"] == "near" for r in rows),
            "training_images_duplicating_test": sum(r["split"] == "train" and r["kept_split"] == "test" for r in rows),
            "out": str(data_out), "removed_csv": str(csv_out)}
