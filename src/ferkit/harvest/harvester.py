"""``harvest(videos, out, options)``: labelled face datasets from videos (see :mod:`ferkit.harvest`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ferkit.core.errors import FerkitError, InputError, MissingInputError
from ferkit.core.images import IMAGE_SUFFIXES
from ferkit.harvest.collect import SEEN_SCORE, collect_video, dedupe_across
from ferkit.harvest.options import HarvestOptions
from ferkit.harvest.report import build_report, write_report
from ferkit.harvest.splits import assign_splits
from ferkit.harvest.store import HarvestStore, video_id
from ferkit.infer.batch import expand_inputs
from ferkit.infer.options import RecognizerOptions
from ferkit.infer.recognizer import Recognizer

log = logging.getLogger("ferkit.harvest")

#: video states that need no more work in a later run
SETTLED = ("done", "no_faces", "error")


def recognizer_for(options: HarvestOptions) -> Recognizer:
    """The pipeline ``ferkit analyze`` uses, with the detector reporting faces from :data:`SEEN_SCORE` up
    (so the ``min_score`` rule's removals are counted) and small faces too (``min_face`` counts them)."""
    return Recognizer(RecognizerOptions(model=options.model, detector=options.detector,
                                        score_threshold=min(SEEN_SCORE, options.min_score),
                                        min_face_size=min(20, options.min_face), tta=options.tta))


def read_groups(path: str | Path) -> dict[str, str]:
    """A CSV with columns ``video`` (a file name, with or without its suffix) and ``group`` (a person, a show:
    videos of one group always share a split)."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: no such groups file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"video", "group"} <= set(reader.fieldnames):
            raise InputError(f"{path}: a groups file needs the columns video and group, got {reader.fieldnames}")
        groups = {row["video"].strip(): row["group"].strip() for row in reader if row["video"].strip()}
    if not groups:
        raise InputError(f"{path}: no rows")
    return groups


def group_of(path: Path, groups: Mapping[str, str] | None) -> str | None:
    if not groups:
        return None
    return groups.get(path.name) or groups.get(path.stem)


def harvest(inputs: Iterable[str | Path], out: str | Path, options: HarvestOptions | None = None,
            progress: bool | None = None, groups: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Harvest the videos in ``inputs`` (files, folders searched for videos, globs) into the dataset folder
    ``out``; an existing harvest there is extended (same options only). ``groups`` maps video file names
    (or stems) to a group (a person, a show): videos of one group share a split, also across runs. Returns
    a summary: videos harvested, skipped (done before), failed (with reasons), and the report."""
    import sys

    options = options or HarvestOptions()
    show = sys.stderr.isatty() if progress is None else progress
    recognizer = recognizer_for(options)
    store = HarvestStore(out, options, recognizer.options.model_path, recognizer.classes)
    items = expand_inputs(inputs, video=True)
    summary: dict[str, Any] = {"harvested": [], "skipped": [], "failed": [], "interrupted": False}
    hashes, mirrors = store.known_hashes()
    try:
        for item in tqdm(items, desc="videos", unit="video", disable=not show or len(items) < 2):
            if item.error:
                summary["failed"].append({"path": str(item.path), "error": item.error})
                continue
            if item.path.suffix.lower() in IMAGE_SUFFIXES:
                summary["failed"].append({"path": str(item.path), "error": "an image, not a video: ferkit harvest "
                                          "reads videos (ferkit analyze reads images)"})
                continue
            try:
                vid = video_id(item.path)
            except OSError as exc:
                summary["failed"].append({"path": str(item.path), "error": f"cannot be read ({exc.strerror})"})
                continue
            info = store.video(vid)
            if info and info.get("status") in (*SETTLED, "staged", "finalizing"):
                summary["skipped"].append(str(item.path))
                continue
            store.clear_staging(vid)  # what an interrupted collection left
            try:
                got = collect_video(item.path, recognizer, options, progress=show)
            except FerkitError as exc:
                store.record(vid, path=str(item.path), status="error", error=str(exc))
                summary["failed"].append({"path": str(item.path), "error": str(exc)})
                log.warning("%s: skipped: %s", item.path, exc)
                continue
            candidates = dedupe_across(got.candidates, hashes, mirrors, options.dedupe_bits, got.counts)
            status = "staged" if candidates else "no_faces"
            if candidates:
                store.stage(vid, item.path, candidates)
            store.record(vid, path=str(item.path), status=status, group=group_of(item.path, groups),
                         counts=dict(got.counts), frames=got.frames,
                         duration_s=round(got.duration_s, 3), complete=got.complete,
                         error=None if candidates else ("no face detected" if not got.counts["seen"] else
                                                        "no face left after the rules and duplicate removal"))
            summary["harvested"].append(str(item.path))
    except KeyboardInterrupt:
        summary["interrupted"] = True
        log.warning("harvest interrupted: run the same command again to continue")
    finalize_staged(store, options)
    if store.state_path.exists():
        store.write_parquet()
        summary["report"] = write_report(store.out, store.state, store.rows(), options.dedupe_bits)
    else:  # no input could even be opened: nothing is created, the failures are reported
        summary["report"] = build_report(store.out, store.state, [], options.dedupe_bits)
    summary["out"] = str(store.out)
    return summary


def finalize_staged(store: HarvestStore, options: HarvestOptions) -> None:
    """Give every staged video its split (keeping one chosen before an interruption) and move it into place."""
    videos = store.state["videos"]
    pending = [vid for vid, info in videos.items() if info.get("status") in ("staged", "finalizing")]
    if not pending:
        return
    chosen = {vid: videos[vid]["split"] for vid in pending if videos[vid].get("status") == "finalizing"}
    if options.split == "video":
        # a group (or a lone video) is the unit; a group with a split already keeps it
        unit = {vid: videos[vid].get("group") or f"video:{vid}" for vid in pending if vid not in chosen}
        placed = {info.get("group"): info.get("split") for info in videos.values()
                  if info.get("group") and info.get("split") and info.get("status") in ("done", "finalizing")}
        new: dict[str, dict[str, int]] = {}
        for vid, u in unit.items():
            if u in placed:
                chosen[vid] = placed[u]
                continue
            counts = new.setdefault(u, {})
            for c, k in store.staged_counts(vid).items():
                counts[c] = counts.get(c, 0) + k
        by_unit = assign_splits(new, store.split_counts(), store.classes, options.val_fraction,
                                options.test_fraction)
        for vid, u in unit.items():
            if vid not in chosen and u in by_unit:
                chosen[vid] = by_unit[u]
    for vid in pending:
        store.finalize(vid, chosen.get(vid) if options.split == "video" else None)
