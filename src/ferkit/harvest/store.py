"""A harvested dataset on disk, and how it grows safely.

    DATASET/harvest.json                    options, model, classes and every video's state
    DATASET/train|val|test/<class>/*.png    the kept faces (``<class>/`` alone with ``split = none``)
    DATASET/review/<label>/*.png            faces that passed detection but not the label rules
    DATASET/originals/...                   the larger colour crops, same layout (``original_size``)
    DATASET/manifest.csv (+ .parquet)       one row per face written
    DATASET/.staging/<video>/               a collected video waiting for its split

A video is collected, then staged (its faces written under ``.staging``), then, once every video of the run
is staged, given a split and moved into place (finalised). ``harvest.json`` is rewritten (atomically) after
every step, so an interrupted harvest continues where it stopped: finished videos are skipped, staged ones
are finalised, a video interrupted while being collected is collected again."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferkit.core.errors import OptionError, OutputError
from ferkit.core.paths import file_digest
from ferkit.harvest.collect import Candidate
from ferkit.harvest.options import HarvestOptions

STATE_NAME = "harvest.json"
MANIFEST_NAME = "manifest.csv"
STAGING = ".staging"
FORMAT = 1


def video_id(path: Path) -> str:
    """A stable name for a video: its file name and a hash of its size and first megabyte (the same video
    moved or renamed keeps its hash; two files of one name in two folders do not collide)."""
    h = hashlib.sha1(str(path.stat().st_size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:40] or "video"
    return f"{stem}-{h.hexdigest()[:8]}"


def manifest_columns(classes: list[str]) -> list[str]:
    return (["file", "status", "split", "label", "video", "video_path", "track", "frame", "time_s", "x", "y", "w",
             "h", "score"] + [f"p_{c}" for c in classes] + ["margin", "hash", "hash_mirror", "reason", "original"])


class HarvestStore:
    """The dataset folder and its state (see the module docstring)."""

    def __init__(self, out: str | Path, options: HarvestOptions, model_path: Path, classes: tuple[str, ...]):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"{self.out} is a file; --out must be a folder")
        self.options = options
        self.classes = list(classes)
        self.state_path = self.out / STATE_NAME
        model = {"file": Path(model_path).name, "sha256": file_digest(model_path)}
        wanted = {"format": FORMAT, "options": _plain(options.to_dict(), drop=("model",)), "model": model,
                  "classes": self.classes}
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
            for key in ("options", "model", "classes"):
                if self.state.get(key) != wanted[key]:
                    raise OptionError(self._mismatch(key, self.state.get(key), wanted[key]))
        else:
            if self.out.exists() and any(p.name != ".DS_Store" for p in self.out.iterdir()):
                raise OutputError(f"{self.out} is not empty and holds no harvest ({STATE_NAME}): harvest into a new "
                                  "or empty folder (ferkit never writes over what is there)")
            self.state = {**wanted, "videos": {}}

    def _mismatch(self, key: str, before: Any, now: Any) -> str:
        if key == "options":
            changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            detail = ", ".join(f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in changed)
        else:
            detail = f"{before!r} -> {now!r}"
        return (f"{self.out} was harvested with other {key} ({detail}); one dataset keeps one set of rules: "
                "use the same options to add videos, or another --out")

    # ----------------------------------------------------------------- state
    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(STATE_NAME + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)

    def video(self, vid: str) -> dict[str, Any] | None:
        return self.state["videos"].get(vid)

    def record(self, vid: str, **fields: Any) -> None:
        self.state["videos"].setdefault(vid, {}).update(fields)
        self.save()

    # ----------------------------------------------------------------- known faces
    def known_hashes(self) -> tuple[list[int], list[int]]:
        """The pHashes of every kept face already in the dataset or staged, and of their mirrors."""
        hashes, mirrors = [], []
        for row in self.rows():
            if row["status"] == "kept":
                hashes.append(int(row["hash"], 16))
                mirrors.append(int(row["hash_mirror"], 16))
        for vid, info in self.state["videos"].items():
            if info.get("status") in ("staged", "finalizing"):
                for row in self._staged_rows(vid):
                    if row["status"] == "kept":
                        hashes.append(int(row["hash"], 16))
                        mirrors.append(int(row["hash_mirror"], 16))
        return hashes, mirrors

    def rows(self) -> list[dict[str, str]]:
        path = self.out / MANIFEST_NAME
        if not path.exists():
            return []
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))

    # ----------------------------------------------------------------- staging
    def _staging(self, vid: str) -> Path:
        return self.out / STAGING / vid

    def _staged_rows(self, vid: str) -> list[dict[str, Any]]:
        path = self._staging(vid) / "rows.json"
        return json.loads(path.read_text()) if path.exists() else []

    def clear_staging(self, vid: str) -> None:
        shutil.rmtree(self._staging(vid), ignore_errors=True)

    def stage(self, vid: str, video_path: Path, candidates: list[Candidate]) -> None:
        """Write a collected video's faces under ``.staging/<vid>`` with their rows (the split comes later)."""
        stage = self._staging(vid)
        self.clear_staging(vid)
        stage.mkdir(parents=True)
        rows = []
        for c in candidates:
            name = f"{vid}_t{c.track:03d}_f{c.frame:06d}.png"
            _write_png(stage / name, c.crop)
            if c.original is not None:
                _write_png(stage / f"orig_{name}", c.original)
            rows.append({
                "name": name, "status": c.status, "label": c.label, "video": vid, "video_path": str(video_path),
                "track": c.track, "frame": c.frame, "time_s": round(c.time_s, 3), "box": c.box,
                "score": round(c.score, 4), "probs": [round(float(p), 5) for p in c.probs],
                "margin": round(c.margin, 4), "hash": f"{c.hash:016x}", "hash_mirror": f"{c.hash_mirror:016x}",
                "reason": c.reason, "original": c.original is not None,
            })
        (stage / "rows.json").write_text(json.dumps(rows))

    def staged_counts(self, vid: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._staged_rows(vid):
            if row["status"] == "kept":
                counts[row["label"]] = counts.get(row["label"], 0) + 1
        return counts

    def split_counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> kept faces already in place."""
        out: dict[str, dict[str, int]] = {}
        for row in self.rows():
            if row["status"] == "kept":
                by_class = out.setdefault(row["split"], {})
                by_class[row["label"]] = by_class.get(row["label"], 0) + 1
        return out

    # ----------------------------------------------------------------- finalising
    def destination(self, row: dict[str, Any], split: str | None) -> Path:
        if row["status"] == "review":
            return Path("review") / row["label"] / row["name"]
        if self.options.split == "none":
            return Path(row["label"]) / row["name"]
        return Path(split) / row["label"] / row["name"]

    def finalize(self, vid: str, split: str | None) -> None:
        """Move a staged video's faces into place and add its rows to the manifest (safe to repeat after an
        interruption: files already moved are skipped, rows already in the manifest are not added twice)."""
        self.record(vid, status="finalizing", split=split)
        rows = self._staged_rows(vid)
        stage = self._staging(vid)
        out_rows = []
        for row in rows:
            rel = self.destination(row, split)
            _move(stage / row["name"], self.out / rel)
            original = ""
            if row["original"]:
                orig_rel = Path("originals") / rel
                _move(stage / f"orig_{row['name']}", self.out / orig_rel)
                original = orig_rel.as_posix()
            x, y, w, h = row["box"]
            out_rows.append({
                "file": rel.as_posix(), "status": row["status"],
                "split": "review" if row["status"] == "review" else (split or "none"), "label": row["label"],
                "video": vid, "video_path": row["video_path"], "track": row["track"], "frame": row["frame"],
                "time_s": row["time_s"], "x": x, "y": y, "w": w, "h": h, "score": row["score"],
                **{f"p_{c}": p for c, p in zip(self.classes, row["probs"])},
                "margin": row["margin"], "hash": row["hash"], "hash_mirror": row["hash_mirror"],
                "reason": row["reason"], "original": original,
            })
        already = {r["file"] for r in self.rows() if r["video"] == vid}
        self._append_rows([r for r in out_rows if r["file"] not in already])
        self.clear_staging(vid)
        self.record(vid, status="done", split=split)

    def _append_rows(self, rows: list[dict[str, Any]]) -> None:
        path = self.out / MANIFEST_NAME
        new = not path.exists()
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=manifest_columns(self.classes))
            if new:
                writer.writeheader()
            writer.writerows(rows)

    def write_parquet(self) -> Path | None:
        """manifest.parquet beside the CSV when pandas and pyarrow are installed."""
        try:
            import pandas as pd
            import pyarrow  # noqa: F401
        except ImportError:
            return None
        path = self.out / MANIFEST_NAME
        if not path.exists():
            return None
        out = path.with_suffix(".parquet")
        pd.read_csv(path, dtype={"hash": str, "hash_mirror": str}).to_parquet(out, index=False)
        return out


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OutputError(f"{path}: could not be written")


def _move(src: Path, dst: Path) -> None:
    if not src.exists():  # moved before an interruption
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _plain(d: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in d.items() if k not in drop}, sort_keys=True))
