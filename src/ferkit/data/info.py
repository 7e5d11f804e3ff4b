"""``ferkit data info``: counts per class and split, imbalance, shape checks and duplicates."""

from __future__ import annotations

import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.options import check_int
from ferkit.data.dataset import SPLITS, FaceDataset
from ferkit.data.duplicates import exact_duplicates, near_duplicate_pairs, pair_groups


def dataset_info(ds: FaceDataset, duplicates: bool = True, max_distance: int = 5, progress: bool = False) -> dict:
    """Counts per class and split, imbalance, shape checks, the loader's problems and (``duplicates``)
    exact and near-duplicate groups; ``progress`` shows a progress bar for the near-duplicate search."""
    check_int("dataset_info", "max_distance", max_distance, lo=0, hi=64)
    if len(ds) == 0:
        raise InputError(f"{ds.name}: no images")
    splits = ds.split if ds.split is not None else np.full(len(ds), "", dtype="<U5")
    names = [s for s in SPLITS if (splits == s).any()] or [""]
    counts = {
        (s or "all"): {c: int(k) for c, k in zip(ds.classes, np.bincount(ds.labels[splits == s] if s else ds.labels,
                                                                       minlength=len(ds.classes)))}
        for s in names
    }
    total = np.bincount(ds.labels, minlength=len(ds.classes))
    nonzero = total[total > 0]
    info = {
        "name": ds.name,
        "n": len(ds),
        "classes": list(ds.classes),
        "image_shape": list(ds.images.shape[1:]),
        "dtype": str(ds.images.dtype),
        "pixel_range": [int(ds.images.min()), int(ds.images.max())],
        "counts": counts,
        "imbalance_ratio": float(nonzero.max() / nonzero.min()) if len(nonzero) else None,
        "groups": len(np.unique(ds.groups)) if ds.groups is not None else None,
        "groups_across_splits": groups_across_splits(ds),
        "problems": [str(p) for p in ds.problems],
        "constant_images": int((ds.images.reshape(len(ds), -1).std(axis=1) == 0).sum()),
    }
    if duplicates:
        exact = exact_duplicates(ds.images)
        near = pair_groups(len(ds), near_duplicate_pairs(ds.images, max_distance=max_distance, progress=progress))

        def crossing(groups):
            return sum(1 for g in groups if len(set(splits[g])) > 1)

        def label_conflicts(groups):
            return sum(1 for g in groups if len(set(ds.labels[g])) > 1)

        info["duplicates"] = {
            "exact_groups": len(exact),
            "exact_images": int(sum(len(g) for g in exact)),
            "exact_groups_across_splits": crossing(exact),
            "near_max_distance_bits": max_distance,
            "near_groups": len(near),
            "near_images": int(sum(len(g) for g in near)),
            "near_groups_across_splits": crossing(near),
            "near_groups_with_conflicting_labels": label_conflicts(near),
        }
    return info


def format_info(info: dict) -> str:
    lines = [f"{info['name']}: {info['n']} images {info['image_shape']} {info['dtype']}, "
             f"pixels {info['pixel_range'][0]}..{info['pixel_range'][1]}"]
    splits = list(info["counts"])
    lines.append(f"{'class':<10}" + "".join(f"{s:>8}" for s in splits) + f"{'total':>8}")
    for c in info["classes"]:
        row = [info["counts"][s][c] for s in splits]
        lines.append(f"{c:<10}" + "".join(f"{k:>8}" for k in row) + f"{sum(row):>8}")
    totals = "".join(f"{sum(info['counts'][s].values()):>8}" for s in splits)
    lines.append(f"{'total':<10}" + totals + f"{info['n']:>8}")
    lines.append(f"imbalance (largest / smallest class): {info['imbalance_ratio']:.1f}")
    if info["groups"] is not None:
        leak = info["groups_across_splits"]
        lines.append(f"groups (subjects/sources): {info['groups']}"
                     + (f"; in more than one split: {len(leak)} ({', '.join(leak[:5])}{' ...' if len(leak) > 5 else ''})"
                        if leak else "; none in more than one split" if ds_has_splits(info) else ""))
    if info["constant_images"]:
        lines.append(f"constant (blank) images: {info['constant_images']}")
    d = info.get("duplicates")
    if d:
        lines.append(f"exact duplicates: {d['exact_groups']} groups, {d['exact_images']} images, "
                     f"{d['exact_groups_across_splits']} groups across splits")
        lines.append(f"near duplicates (pHash <= {d['near_max_distance_bits']} bits, mirrored included): "
                     f"{d['near_groups']} groups, {d['near_images']} images, {d['near_groups_across_splits']} "
                     f"across splits, {d['near_groups_with_conflicting_labels']} with conflicting labels")
    if info["problems"]:
        lines.append(f"skipped {len(info['problems'])} items:")
        lines += [f"  {p}" for p in info["problems"][:20]]
        if len(info["problems"]) > 20:
            lines.append(f"  ... and {len(info['problems']) - 20} more")
    return "\n".join(lines)


def groups_across_splits(ds) -> list[str]:
    """The groups (subjects, videos) with images in more than one split: leakage."""
    if ds.groups is None or ds.split is None:
        return []
    seen: dict[str, set[str]] = {}
    for g, s in zip(ds.groups.tolist(), ds.split.tolist()):
        if s:
            seen.setdefault(str(g), set()).add(s)
    return sorted(g for g, splits in seen.items() if len(splits) > 1)


def ds_has_splits(info: dict) -> bool:
    return len([s for s in info["counts"] if s]) > 1
