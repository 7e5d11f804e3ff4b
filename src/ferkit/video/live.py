"""Live sources (a webcam, a stream URL, or a file played as if live) through
``Recognizer.analyze_stream``: show and/or record the annotated stream, and keep per-frame rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2

from ferkit.infer.annotate import draw_faces
from ferkit.video.results import FrameRowWriter, frame_rows
from ferkit.video.summary import SummaryBuilder
from ferkit.video.writer import VideoWriter


def open_source(source: str | int) -> cv2.VideoCapture:
    """A device index ("0") or a URL/path, opened with OpenCV."""
    src: str | int = int(source) if isinstance(source, str) and source.isdigit() else source
    cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        raise ValueError(f"cannot open video source {source!r} (no such device, URL or file)")
    return cap


def can_show() -> bool:
    """Whether this OpenCV build has a GUI (opencv-python-headless has none)."""
    try:
        info = cv2.getBuildInformation()
    except cv2.error:
        return False
    gui = [line for line in info.splitlines() if line.strip().startswith("GUI:")]
    return bool(gui) and "NONE" not in gui[0].upper()


def run_live(recognizer, source: str | int, record: str | Path | None = None, rows: str | Path | None = None,
             show: bool = False, max_frames: int | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Process frames until the source ends, ``max_frames``, Ctrl-C or (when shown) the q key.
    Timestamps are the time since the first frame. Returns a summary of what was seen."""
    if show and not can_show():
        raise ValueError("this OpenCV build has no GUI (opencv-python-headless); use --record, "
                         "or install opencv-python in place of opencv-python-headless to show a window")
    if record and Path(record).exists() and not overwrite:
        raise FileExistsError(f"{record}: exists; use --overwrite to replace it")
    cap = open_source(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    recognizer.reset_stream()
    builder = SummaryBuilder(recognizer.classes, recognizer.options.sentiment_map)
    writer = FrameRowWriter(rows, overwrite=overwrite) if rows else None
    video = None
    start = None
    n = 0
    try:
        while max_frames is None or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            now = time.monotonic()
            start = now if start is None else start
            t = now - start
            faces = [f.to_dict() for f in recognizer.analyze_stream(frame, t)]
            frame_data = frame_rows(n, round(t, 6), faces)
            builder.extend(frame_data)
            if writer:
                writer.write(frame_data)
            annotated = draw_faces(frame, faces)
            if record:
                if video is None:
                    video = VideoWriter(record, fps, frame.shape[1], frame.shape[0])
                video.write(annotated)  # recorded at the source frame rate
            if show:
                cv2.imshow("ferkit", annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        if writer:
            writer.close()
        if video:
            video.close()
        if show:
            cv2.destroyAllWindows()
    return {"source": str(source), "frames": n, **builder.summary()}
