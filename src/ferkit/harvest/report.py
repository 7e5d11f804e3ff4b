"""A harvest's report: ``report.json`` and ``report.md`` (counts per class and split, per video, what each rule
removed, and the leakage checks: no video and no near-duplicate in two splits) and a contact sheet per class
(``contact_sheets/<class>.png``, a grid of sample faces) to eyeball label quality."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferkit.core.figures import pyplot, save_figure

#: the counters a video's harvest keeps, in report order
RULE_COUNTS = ("seen", "filtered_min_score", "filtered_min_face", "review", "review_min_prob", "review_min_margin",
               "review_stable", "duplicate_in_track", "review_duplicate_in_track", "duplicate_across", "kept")


def leakage(rows: list[dict[str, str]], bits: int, group_of: dict[str, str] | None = None) -> dict[str, Any]:
    """Videos (and groups of videos: ``group_of`` maps a video to its group) whose kept faces are in more than
    one split, and pairs of kept faces in different splits whose pHashes (or one's mirror) are within ``bits``."""
    kept = [r for r in rows if r["status"] == "kept"]
    splits_of: dict[str, set[str]] = defaultdict(set)
    group_splits: dict[str, set[str]] = defaultdict(set)
    for r in kept:
        splits_of[r["video"]].add(r["split"])
        if group_of and group_of.get(r["video"]):
            group_splits[group_of[r["video"]]].add(r["split"])
    videos = sorted(v for v, s in splits_of.items() if len(s) > 1)
    groups = sorted(g for g, s in group_splits.items() if len(s) > 1)
    pairs = []
    if kept and bits >= 0:
        h = np.array([int(r["hash"], 16) for r in kept], dtype=np.uint64)
        m = np.array([int(r["hash_mirror"], 16) for r in kept], dtype=np.uint64)
        split = np.array([r["split"] for r in kept])
        for i in range(len(kept)):
            other = split != split[i]
            close = (np.bitwise_count(h ^ h[i]) <= bits) | (np.bitwise_count(m ^ h[i]) <= bits)
            for j in np.flatnonzero(close & other):
                if j > i:
                    pairs.append([kept[i]["file"], kept[int(j)]["file"]])
    return {"videos_in_several_splits": videos, "groups_in_several_splits": groups,
            "near_duplicates_across_splits": len(pairs), "examples": pairs[:10],
            "ok": not videos and not groups and not pairs}


def contact_sheet(files: list[Path], out: Path, title: str, columns: int = 8, limit: int = 64) -> Path:
    """A grid of up to ``limit`` faces, evenly spread over ``files``."""
    pick = [files[int(i)] for i in np.linspace(0, len(files) - 1, min(limit, len(files)))] if files else []
    rows = max(1, -(-len(pick) // columns))
    fig, axes = pyplot().subplots(rows, columns, figsize=(columns * 1.1, rows * 1.1 + 0.5))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, path in zip(np.atleast_1d(axes).ravel(), pick):
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is not None:
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    fig.suptitle(title)
    return save_figure(fig, out)


def build_report(out: Path, state: dict[str, Any], rows: list[dict[str, str]], bits: int) -> dict[str, Any]:
    classes = state["classes"]
    kept = [r for r in rows if r["status"] == "kept"]
    per_split: dict[str, Counter] = defaultdict(Counter)
    for r in kept:
        per_split[r["split"]][r["label"]] += 1
    review = Counter(r["label"] for r in rows if r["status"] == "review")
    totals: Counter = Counter()
    videos = {}
    for vid, info in sorted(state["videos"].items()):
        counts = info.get("counts", {})
        totals.update(counts)
        videos[vid] = {"path": info.get("path"), "status": info.get("status"), "split": info.get("split"),
                       "frames": info.get("frames"), "duration_s": info.get("duration_s"),
                       "error": info.get("error"), **{k: counts.get(k, 0) for k in RULE_COUNTS}}
    return {
        "classes": classes,
        "per_split": {s: {c: per_split[s].get(c, 0) for c in classes} for s in sorted(per_split)},
        "review": {c: review.get(c, 0) for c in classes},
        "totals": {k: totals.get(k, 0) for k in RULE_COUNTS},
        "videos": videos,
        "leakage": leakage(rows, max(bits, 5), {vid: info.get("group") for vid, info in state["videos"].items()
                                                if info.get("group")}),
        "options": state["options"],
        "model": state["model"],
    }


def markdown(report: dict[str, Any]) -> str:
    classes = report["classes"]
    lines = ["# Harvest report", "", "## Faces per class and split", "",
             "| split | " + " | ".join(classes) + " | total |", "|---|" + "---|" * (len(classes) + 1)]
    for split, counts in report["per_split"].items():
        lines.append(f"| {split} | " + " | ".join(str(counts[c]) for c in classes) + f" | {sum(counts.values())} |")
    lines.append("| review | " + " | ".join(str(report["review"][c]) for c in classes)
                 + f" | {sum(report['review'].values())} |")
    t = report["totals"]
    lines += ["", "## What the rules did", "",
              f"Faces seen {t['seen']}; filtered by detector score {t['filtered_min_score']}, by size "
              f"{t['filtered_min_face']}; sent to review {t['review']} (top probability {t['review_min_prob']}, "
              f"margin {t['review_min_margin']}, unstable label {t['review_stable']}); near-duplicates removed "
              f"within tracks {t['duplicate_in_track']} (+{t['review_duplicate_in_track']} in review), across the "
              f"dataset {t['duplicate_across']}; kept {t['kept']}.", "",
              "## Videos", "", "| video | status | split | frames | seen | kept | review | duplicates | note |",
              "|---|---|---|---|---|---|---|---|---|"]
    for vid, v in report["videos"].items():
        dupes = v["duplicate_in_track"] + v["duplicate_across"]
        lines.append(f"| {vid} | {v['status']} | {v['split'] or '-'} | {v['frames'] or 0} | {v['seen']} | {v['kept']} "
                     f"| {v['review']} | {dupes} | {v['error'] or ''} |")
    leak = report["leakage"]
    lines += ["", "## Leakage check", "",
              "No video, no group of videos and no near-duplicate face is in two splits." if leak["ok"] else
              f"Videos in several splits: {', '.join(leak['videos_in_several_splits']) or 'none'}; groups: "
              f"{', '.join(leak['groups_in_several_splits']) or 'none'}; near-duplicate "
              f"pairs across splits: {leak['near_duplicates_across_splits']}.", "",
              "## Contact sheets", ""]
    lines += [f"![{c}](contact_sheets/{c}.png)" for c in classes if any(s.get(c) for s in report["per_split"].values())]
    return "\n".join(lines) + "\n"


def write_report(out: Path, state: dict[str, Any], rows: list[dict[str, str]], bits: int) -> dict[str, Any]:
    report = build_report(out, state, rows, bits)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown(report))
    for c in report["classes"]:
        files = [out / r["file"] for r in rows if r["status"] == "kept" and r["label"] == c]
        if files:
            contact_sheet(files, out / "contact_sheets" / f"{c}.png", f"{c}: {len(files)} faces")
    return report
