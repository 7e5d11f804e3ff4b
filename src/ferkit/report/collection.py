"""A collection report: one row per video of a folder of results (``ferkit analyze`` summaries,
``NAME.summary.json``, and ``ferkit harvest`` datasets, ``manifest.csv`` beside ``harvest.json``), with the
dominant emotion, the emotion mix and the positive/neutral/negative shares, faces and tracks; written as CSV
and Markdown with a plot of the emotion mix per video."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.figures import pyplot, save_figure
from ferkit.core.labels import EMOTION_COLORS, SENTIMENTS, sentiment_probabilities

SUMMARY_SUFFIX = ".summary.json"
HARVEST_STATE, HARVEST_MANIFEST = "harvest.json", "manifest.csv"


def from_summary(path: Path) -> dict[str, Any]:
    """A row from an analyze summary (its overall figures)."""
    d = json.loads(path.read_text())
    overall = d["overall"]
    return {"video": Path(d.get("video") or path.name).name, "source": str(path), "kind": "analyze",
            "faces": int(overall.get("frames", 0)), "tracks": int(d.get("tracks", 0)),
            "duration_s": d.get("duration_s"), "complete": d.get("complete"),
            "emotions": dict(overall.get("mean_emotions") or {})}


def from_harvest(folder: Path) -> list[dict[str, Any]]:
    """Rows from a harvested dataset: per video, the mean probabilities of its faces (kept and review)."""
    state = json.loads((folder / HARVEST_STATE).read_text())
    classes = state["classes"]
    faces: dict[str, list[np.ndarray]] = defaultdict(list)
    tracks: dict[str, set[str]] = defaultdict(set)
    with (folder / HARVEST_MANIFEST).open(newline="") as fh:
        for r in csv.DictReader(fh):
            faces[r["video"]].append(np.array([float(r[f"p_{c}"]) for c in classes]))
            tracks[r["video"]].add(r["track"])
    rows = []
    for vid, info in sorted(state["videos"].items()):
        if vid not in faces:
            continue
        mean = np.mean(faces[vid], axis=0)
        rows.append({"video": Path(info.get("path") or vid).name, "source": str(folder), "kind": "harvest",
                     "faces": len(faces[vid]), "tracks": len(tracks[vid]), "duration_s": info.get("duration_s"),
                     "complete": info.get("complete"), "emotions": dict(zip(classes, mean.tolist()))})
    return rows


def collect(results: str | Path) -> list[dict[str, Any]]:
    """Every video found below ``results``: summaries and harvested datasets (searched recursively)."""
    root = Path(results)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of results (ferkit analyze --out-dir, or a ferkit harvest dataset)")
    rows = [from_summary(p) for p in sorted(root.rglob(f"*{SUMMARY_SUFFIX}"))]
    for state in sorted(root.rglob(HARVEST_STATE)):
        if (state.parent / HARVEST_MANIFEST).exists():
            rows += from_harvest(state.parent)
    rows = [r for r in rows if r["emotions"]]
    if not rows:
        raise InputError(f"{root}: no video results in it (NAME{SUMMARY_SUFFIX} files from ferkit analyze, or a "
                         f"harvest's {HARVEST_MANIFEST})")
    for r in rows:
        classes = list(r["emotions"])
        probs = np.array([[r["emotions"][c] for c in classes]])
        r["dominant"] = max(r["emotions"], key=r["emotions"].get)
        r["dominant_share"] = float(r["emotions"][r["dominant"]])
        r["sentiment"] = dict(zip(SENTIMENTS, sentiment_probabilities(probs, classes)[0].tolist()))
    return rows


def csv_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    classes = list(dict.fromkeys(c for r in rows for c in r["emotions"]))
    columns = (["video", "kind", "dominant", "dominant_share"] + [f"share_{s}" for s in SENTIMENTS]
               + ["faces", "tracks", "duration_s", "complete"] + [f"p_{c}" for c in classes] + ["source"])
    out = []
    for r in rows:
        out.append({"video": r["video"], "kind": r["kind"], "dominant": r["dominant"],
                    "dominant_share": round(r["dominant_share"], 4),
                    **{f"share_{s}": round(r["sentiment"][s], 4) for s in SENTIMENTS},
                    "faces": r["faces"], "tracks": r["tracks"], "duration_s": r["duration_s"],
                    "complete": r["complete"], **{f"p_{c}": round(r["emotions"].get(c, 0.0), 4) for c in classes},
                    "source": r["source"]})
    return columns, out


def plot_mix(rows: list[dict[str, Any]], out: Path) -> Path:
    """Stacked horizontal bars: each video's mean emotion probabilities."""
    classes = list(dict.fromkeys(c for r in rows for c in r["emotions"]))
    fig, ax = pyplot().subplots(figsize=(9, 0.4 * len(rows) + 1.6))
    left = np.zeros(len(rows))
    for c in classes:
        share = np.array([r["emotions"].get(c, 0.0) for r in rows])
        color = np.array(EMOTION_COLORS.get(c, (128, 128, 128))[::-1]) / 255.0  # BGR -> RGB
        ax.barh(range(len(rows)), share, left=left, color=color, label=c)
        left += share
    ax.set_yticks(range(len(rows)), [r["video"] for r in rows])
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="mean probability", title="Emotion mix per video")
    ax.legend(ncol=min(4, len(classes)), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    return save_figure(fig, out)


def markdown(rows: list[dict[str, Any]], results: str) -> str:
    lines = [f"# Collection report: {results}", "", f"{len(rows)} videos.", "",
             "| video | kind | dominant | share | positive | neutral | negative | faces | tracks |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["sentiment"]
        lines.append(f"| {r['video']} | {r['kind']} | {r['dominant']} | {r['dominant_share']:.2f} | "
                     f"{s['positive']:.2f} | {s['neutral']:.2f} | {s['negative']:.2f} | {r['faces']} | {r['tracks']} |")
    return "\n".join(lines + ["", "![emotion mix per video](collection_emotions.png)"]) + "\n"


def report_paths(out_dir: str | Path) -> tuple[Path, Path, Path]:
    out = Path(out_dir)
    return out / "collection.csv", out / "collection.md", out / "collection_emotions.png"


def write_collection_report(results: str | Path, out_dir: str | Path | None = None) -> dict[str, Any]:
    rows = collect(results)
    csv_path, md_path, png_path = report_paths(out_dir or results)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    columns, table = csv_rows(rows)
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    md_path.write_text(markdown(rows, str(results)))
    plot_mix(rows, png_path)
    return {"videos": len(rows), "csv": str(csv_path), "markdown": str(md_path), "plot": str(png_path),
            "rows": table}
