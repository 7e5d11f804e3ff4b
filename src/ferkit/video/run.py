"""Analysing one video file end to end: per-frame rows written as they come, resume, annotated
video, summary JSON and timeline PNG; Ctrl-C stops cleanly and keeps what was done."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ferkit.infer.annotate import draw_faces
from ferkit.video.results import FrameRowWriter, frame_rows, read_rows
from ferkit.infer.stream import VideoIterator, VideoOptions
from ferkit.video.summary import SummaryBuilder
from ferkit.video.writer import VideoWriter

log = logging.getLogger(__name__)


@dataclass
class VideoOutputs:
    """Where one video's results go; None: not written."""

    rows: Path | None = None
    summary: Path | None = None
    timeline: Path | None = None
    annotated: Path | None = None

    @classmethod
    def in_folder(cls, folder: str | Path, stem: str, fmt: str = "jsonl", annotate: bool = False) -> VideoOutputs:
        folder = Path(folder)
        return cls(folder / f"{stem}.frames.{fmt}", folder / f"{stem}.summary.json", folder / f"{stem}.timeline.png",
                   folder / f"{stem}.annotated.mp4" if annotate else None)

    @classmethod
    def beside(cls, rows: str | Path, annotated: str | Path | None = None) -> VideoOutputs:
        """Summary and timeline next to the rows file: x.jsonl -> x.summary.json, x.timeline.png."""
        rows = Path(rows)
        base = rows.with_suffix("")
        return cls(rows, base.with_name(base.name + ".summary.json"), base.with_name(base.name + ".timeline.png"),
                   Path(annotated) if annotated else None)

    def paths(self) -> list[Path]:
        return [p for p in (self.rows, self.summary, self.timeline, self.annotated) if p is not None]


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C during a video; ``summary`` holds what was done (and written)."""

    def __init__(self, summary: dict[str, Any]):
        super().__init__("interrupted")
        self.summary = summary


def check_outputs(video: Path, outputs: VideoOutputs, overwrite: bool, resume: bool) -> None:
    """Refuse to write over the input, or over existing results unless asked to."""
    for p in outputs.paths():
        if p.resolve() == video.resolve():
            raise ValueError(f"{p}: an output may not be the input video")
    if overwrite:
        return
    for p in outputs.paths():
        if resume and p != outputs.annotated:
            continue
        if p.exists():
            raise FileExistsError(f"{p}: exists; use --overwrite to replace it" + ("" if resume else " or --resume"))


def analyze_video_file(recognizer, video: str | Path, outputs: VideoOutputs | None = None,
                       options: VideoOptions | None = None, resume: bool = False, overwrite: bool = False,
                       progress: bool = True) -> dict[str, Any]:
    """Analyse ``video``; returns its summary (also written to ``outputs.summary``). Raises
    ``FileNotFoundError``/``VideoReadError`` for an unreadable file and ``VideoInterrupted``
    (after saving everything) on Ctrl-C."""
    video = Path(video)
    outputs = outputs or VideoOutputs()
    options = options or VideoOptions()
    check_outputs(video, outputs, overwrite, resume)
    builder = SummaryBuilder(recognizer.classes, recognizer.options.sentiment_map)
    start_frame, first_track = 0, 0
    if resume and outputs.rows is not None and outputs.rows.exists():
        old = read_rows(outputs.rows)
        builder.extend(old)
        if old:
            start_frame = max(r["frame"] for r in old) + 1
            first_track = max((r["track_id"] for r in old if r.get("track_id") is not None), default=-1) + 1
    iterator = VideoIterator(recognizer, video, options, start_frame, first_track)
    info = iterator.reader.info
    writer = FrameRowWriter(outputs.rows, overwrite=overwrite, resume=resume) if outputs.rows else None
    annotated = outputs.annotated
    if annotated is not None and start_frame > 0:
        annotated = annotated.with_name(f"{annotated.stem}.from-frame-{start_frame}{annotated.suffix}")
        log.warning("resuming: the annotated video of the remaining frames goes to %s", annotated)
    sample_fps = options.fps or info.fps / options.every
    video_writer = VideoWriter(annotated, sample_fps, info.width, info.height) if annotated else None
    bar = tqdm(total=iterator.reader.expected_samples(), unit="frame", desc=video.name, disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    interrupted = False
    try:
        for result in iterator:
            faces = [f.to_dict() for f in result.faces]
            rows = frame_rows(result.frame, result.time_s, faces)
            builder.extend(rows)
            if writer:
                writer.write(rows)
            if video_writer:
                video_writer.write(draw_faces(iterator.last_image, faces), result.time_s)
            bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        iterator.close()
        if writer:
            writer.close()
        if video_writer:
            video_writer.close()
    summary = {
        "video": str(video),
        "width": info.width, "height": info.height, "fps": info.fps, "duration_s": info.duration_s,
        "codec": info.codec,
        "complete": not interrupted,
        "skipped_frames": iterator.reader.skipped,
        "truncated": iterator.reader.truncated,
        "options": asdict(options),
        **builder.summary(),
    }
    if outputs.summary:
        outputs.summary.parent.mkdir(parents=True, exist_ok=True)
        outputs.summary.write_text(json.dumps(summary, indent=2))
    if outputs.timeline:
        builder.plot_timeline(outputs.timeline, title=video.name)
    if interrupted:
        raise VideoInterrupted(summary)
    return summary
