"""The frame loop's outputs: frames from a source (a video file, a camera, a stream URL) through
``Recognizer.analyze_video`` (the one loop of frames through a stream), then the same outputs for every
kind of source — a record per frame written as
it comes, an annotated video, a window, a summary and a timeline. Ctrl-C stops cleanly and keeps
what was done; an interrupted file run can be resumed exactly (:mod:`ferkit.video.resume`)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ferkit.core.errors import OptionError, ResumeError
from ferkit.core.outputs import check_writable
from ferkit.infer.annotate import draw_faces
from ferkit.infer.options import VideoOptions
from ferkit.infer.tables import ResultWriter, read_records
from ferkit.video.outputs import VideoOutputs
from ferkit.video.resume import ResumeState, file_fingerprint, results_options
from ferkit.video.summary import SummaryBuilder
from ferkit.video.timeline import plot_timeline
from ferkit.video.writer import VideoWriter

log = logging.getLogger(__name__)


class VideoInterrupted(KeyboardInterrupt):
    """Ctrl-C during a video; ``summary`` holds what was done (and written)."""

    def __init__(self, summary: dict[str, Any]):
        super().__init__("interrupted")
        self.summary = summary


def can_show() -> bool:
    """Whether this OpenCV build has a GUI (opencv-python-headless has none)."""
    import cv2

    try:
        info = cv2.getBuildInformation()
    except cv2.error:
        return False
    gui = [line for line in info.splitlines() if line.strip().startswith("GUI:")]
    return bool(gui) and "NONE" not in gui[0].upper()


def is_file_source(source) -> bool:
    return not (isinstance(source, int) or str(source).isdigit() or "://" in str(source))


def analyze_source(recognizer, source, outputs: VideoOutputs | None = None, options: VideoOptions | None = None, *,
                   resume: bool = False, overwrite: bool = False, progress: bool = True, show: bool = False,
                   max_frames: int | None = None, state_every_s: float = 2.0, resumable: bool = True,
                   inputs: tuple = (), on_progress: Callable[[int, int | None], bool | None] | None = None
                   ) -> dict[str, Any]:
    """Analyse ``source`` (a video file path, a device index such as "0", or a stream URL) and
    return its summary (also written to ``outputs.summary``). Raises an InputError for a source
    that cannot be read and ``VideoInterrupted`` (after saving everything) on Ctrl-C. ``resumable``:
    keep a resume state while the run is unfinished (file sources with per-frame results);
    ``inputs``: every input of the run, which no output may replace. ``on_progress(frames_done,
    frames_expected)`` is called after every frame (the expected count may be None); returning True stops
    the run there (its outputs are kept, as for ``max_frames``)."""
    outputs = outputs or VideoOutputs()
    options = options or VideoOptions()
    is_file = is_file_source(source)
    if show and not can_show():
        raise OptionError("this OpenCV build has no GUI (opencv-python-headless); write --annotate out.mp4 instead, "
                          "or install opencv-python in place of opencv-python-headless to show a window")
    if resume and not is_file:
        raise OptionError(f"--resume continues a video file; {source} is a live source")
    if resume and outputs.rows is None:
        raise OptionError("--resume needs the per-frame results (--out or --out-dir) of the interrupted run")
    outputs.check(Path(source) if is_file else None, overwrite, resume, inputs)

    state, start_frame, kept = None, 0, []
    resumer = None
    if is_file and outputs.rows is not None and resumable:
        path = Path(source)
        fingerprint = {"name": path.name, **file_fingerprint(path)} if path.is_file() else {"name": path.name}
        resumer = ResumeState(outputs.state, fingerprint, results_options(recognizer, options))
    if resume and outputs.rows.exists():
        if not outputs.state.exists():
            summary = _read_summary(outputs.summary)
            if summary is not None and summary.get("complete"):
                resumer.check(summary.get("input"), summary.get("results_options"), outputs.summary)
                log.info("%s: already complete, nothing to resume", outputs.rows)
                return summary
            raise ResumeError(f"{outputs.rows}: no resume state beside it ({outputs.state.name}); "
                              "use --overwrite to start again")
        state = resumer.load()
        start_frame = state["frames_done"] + 1
        kept = read_records(outputs.rows)[: state["records"]]
        if len(kept) != state["records"]:
            raise ResumeError(f"{outputs.rows}: holds {len(kept)} records where its resume state says "
                              f"{state['records']} (damaged or cut); use --overwrite to start again")

    annotated = outputs.annotated
    if annotated is not None and start_frame > 0:
        annotated = annotated.with_name(f"{annotated.stem}.from-frame-{start_frame}{annotated.suffix}")
        log.warning("resuming: the annotated video of the remaining frames goes to %s", annotated)
    if annotated is not None:
        check_writable(annotated, overwrite=overwrite, inputs=inputs)
    frames = recognizer.analyze_video(source, options, start_frame=start_frame)
    reader, stream = frames.source, frames.stream
    info = reader.info
    builder = SummaryBuilder(recognizer.classes, recognizer.options.sentiment_map)
    builder.extend(kept)
    try:
        if state is not None:
            try:
                stream.load_state_dict(state["stream"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ResumeError(f"{outputs.state}: damaged resume state ({exc!r}); use --overwrite to start "
                                  "again") from None
        writer = (ResultWriter(outputs.rows, "frame", recognizer.classes, overwrite=overwrite and not resume,
                               resume=resume, keep_bytes=state["rows_bytes"] if state else None,
                               keep_records=state["records"] if state else None)
                  if outputs.rows else None)
    except BaseException:
        reader.close()
        raise
    # a resume point is saved only for frames whose record is written whole; Parquet's rows reach the
    # file only when it is closed, so its point is saved then
    periodic = writer is not None and writer.format.name != "parquet"
    committed = (state["frames_done"], state["records"], state["rows_bytes"], state["stream"]) if state else None
    video_writer = None
    total = reader.expected_samples()
    bar = tqdm(total=total, unit="frame", desc=Path(str(source)).name, disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    records, analysed = len(kept), 0
    last_save = time.monotonic()
    interrupted = stopped = False
    try:
        for result in frames:
            record = result.to_dict()
            builder.add(record)
            if writer:
                writer.write(record)
            records += 1
            analysed += 1
            if resumer and writer:
                committed = (result.frame, records, writer.tell(), stream.state_dict())
            if annotated is not None or show:
                picture = draw_faces(frames.last_image, result.faces)
                if annotated is not None:
                    if video_writer is None:
                        fps = options.fps or info.fps / options.every
                        video_writer = VideoWriter(annotated, fps, picture.shape[1], picture.shape[0])
                    video_writer.write(picture, result.time_s)
                if show and _show(picture):
                    stopped = True
            if resumer and periodic and time.monotonic() - last_save >= state_every_s:
                resumer.save(*committed)
                last_save = time.monotonic()
            bar.update()
            if on_progress is not None and on_progress(analysed, total):
                stopped = True
            if stopped or (max_frames is not None and analysed >= max_frames):
                stopped = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        frames.close()
        if writer:
            writer.close()
        if video_writer:
            video_writer.close()
        if show:
            import cv2

            cv2.destroyAllWindows()
    status = reader.status()
    finished = not (interrupted or stopped)
    if resumer and writer and not finished:
        if committed is None:
            resumer.remove()
        else:
            resumer.save(*committed)
    summary = {
        "video": str(source),
        "width": info.width, "height": info.height, "fps": info.fps, "duration_s": info.duration_s,
        "codec": info.codec,
        "complete": finished and status["complete"],
        "stopped_early": interrupted or stopped,
        "frames_declared": status["frames_declared"],
        "frames_read": status["frames_read"],
        "skipped_frames": status["skipped"],
        "truncated": status["truncated"],
        "options": options.to_dict(),
        **builder.summary(),
        # what --resume checks: the input's content and the options that shape the results
        **({"input": resumer.source, "results_options": resumer.options} if resumer else {}),
    }
    if outputs.summary:
        outputs.summary.parent.mkdir(parents=True, exist_ok=True)
        outputs.summary.write_text(json.dumps(summary, indent=2))
    if outputs.timeline:
        plot_timeline(builder, outputs.timeline, title=Path(str(source)).name)
    if resumer and writer and finished:
        resumer.remove()  # last: a crash before here leaves a state to resume from
    if interrupted:
        raise VideoInterrupted(summary)
    return summary


def _show(picture) -> bool:
    """Show a frame; True when the user pressed q."""
    import cv2

    cv2.imshow("ferkit", picture)
    return cv2.waitKey(1) & 0xFF == ord("q")


def _read_summary(path: Path | None) -> dict | None:
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
