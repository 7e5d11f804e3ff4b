"""Streams: frames in time, with their own state (like MediaPipe's video and live-stream modes).

A :class:`FaceStream` is made by ``Recognizer.open_stream(VideoOptions(...))``; each
``process(frame, timestamp_s)`` runs the shared pipeline (the detector on the whole frame when
``VideoOptions.detect_every`` says, in between the tracked faces, found again near where they were
or kept), gives each face a ``track_id`` and smooths its
probabilities in time. Timestamps must be finite and increase. Its state can be saved and restored
(``state_dict``/``load_state_dict``), so a resumed video continues exactly where it stopped."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.inputs import load_bgr
from ferkit.faces import Detection, iou_matrix
from ferkit.faces.registry import face_window, window_still_fits
from ferkit.infer.options import VideoOptions
from ferkit.infer.pipeline import FacePipeline
from ferkit.infer.results import FrameResult
from ferkit.infer.tracking import FaceTracker, smooth


class FaceStream:
    """One video or live stream. Use it from one thread at a time: calls from several threads are
    serialised, and a frame whose timestamp is not after the previous one is refused."""

    def __init__(self, pipeline: FacePipeline, options: VideoOptions | None = None, color_order: str = "bgr"):
        self.pipeline = pipeline
        self.options = options or VideoOptions()
        self.color_order = color_order
        o = self.options
        self.tracker = FaceTracker(o.iou_threshold, o.max_center_shift, o.max_age_s)
        self.count = 0
        self.last_time: float | None = None
        self._last_detections: dict[int, Detection] = {}
        #: when the whole frame was last searched, and each track's search window (detect_every="auto")
        self.last_scan: float | None = None
        self._windows: dict[int, tuple[int, int, int, int]] = {}
        self._lock = threading.Lock()
        self.closed = False

    def _alive(self, time_s: float) -> list[int]:
        """The tracks of the last detections that are still alive at ``time_s``."""
        alive = {t.track_id for t in self.tracker.tracks if time_s - t.last_time <= self.options.max_age_s}
        return [i for i in self._last_detections if i in alive]

    def _found(self, dets: list[Detection], time_s: float,
               windows: list | None = None) -> tuple[list[Detection], list[int]]:
        ids = self.tracker.update([d.box for d in dets], time_s)
        self._last_detections = dict(zip(ids, dets))
        self._windows = {i: w for i, w in zip(ids, windows) if w is not None} if windows else {}
        return dets, ids

    def _scan(self, bgr: np.ndarray, time_s: float, refine: bool = False) -> tuple[list[Detection], list[int]]:
        self.last_scan = time_s
        dets = self.pipeline.detect(bgr)
        windows = None
        if refine and dets:
            # each face found again in its own window, as it will be until the next scan, so its box comes
            # from one scale throughout with no jump at a scan; a face still inside a tracked face's
            # window is searched in that window
            kept = list(self._windows.values())
            windows = [next((w for w in kept if window_still_fits(w, d.box, bgr.shape)), None)
                       or face_window(d.box, bgr.shape) for d in dets]
            near = self.pipeline.detector.detect_near(bgr, [d.box for d in dets], windows=windows)
            pairs = sorted(((n, w) if n is not None else (d, None) for n, d, w in zip(near, dets, windows)),
                           key=lambda p: (p[0].box[0], p[0].box[1]))  # left to right
            dets, windows = [p[0] for p in pairs], [p[1] for p in pairs]
        return self._found(dets, time_s, windows)

    def _detections(self, bgr: np.ndarray, time_s: float) -> tuple[list[Detection], list[int]]:
        every = self.options.detect_every
        if every == "auto":
            return self._auto_detections(bgr, time_s)
        if self.count % every == 0 or not self._last_detections:
            return self._scan(bgr, time_s)
        # between detections: the tracked faces stay where they were last seen
        ids = self._alive(time_s)
        return [self._last_detections[i] for i in ids], ids

    def _auto_detections(self, bgr: np.ndarray, time_s: float) -> tuple[list[Detection], list[int]]:
        """The whole frame is searched when a scan is due or nothing is tracked; otherwise each
        tracked face is found again in a window around where its track predicts it (the same window
        while the face stays well inside it, so a still face gives the same box), and when one is
        not found (it left, was covered, turned away, or ran into the window's edge), or two tracks
        find the same face, the whole frame is searched at once. Every box given comes from a face's
        own window."""
        ids = self._alive(time_s)
        due = self.last_scan is None or time_s - self.last_scan >= self.options.scan_every_s - 1e-9
        if due or not ids:
            return self._scan(bgr, time_s, refine=True)
        boxes = [self.tracker.predicted(self.tracker.track(i), time_s) for i in ids]
        windows = []
        for i, box in zip(ids, boxes):
            window = self._windows.get(i)
            windows.append(window if window is not None and window_still_fits(window, box, bgr.shape)
                           else face_window(box, bgr.shape))
        found = self.pipeline.detector.detect_near(bgr, boxes, windows=windows)
        if any(d is None for d in found) or (
                len(found) > 1 and (np.triu(iou_matrix([d.box for d in found], [d.box for d in found]), 1) > 0.5).any()):
            return self._scan(bgr, time_s, refine=True)
        order = sorted(range(len(found)), key=lambda k: (found[k].box[0], found[k].box[1]))  # left to right
        return self._found([found[k] for k in order], time_s, [windows[k] for k in order])

    def process(self, frame, timestamp_s: float, index: int | None = None) -> FrameResult:
        """The tracked faces of one frame (a NumPy image, path or PIL image) at ``timestamp_s``
        seconds; ``index`` numbers the frame in the result (default: frames processed so far)."""
        if self.closed:
            raise InputError("this stream is closed; open a new one with Recognizer.open_stream()")
        try:
            t = float(timestamp_s)
        except (TypeError, ValueError):
            raise InputError(f"timestamp must be a number of seconds, got {timestamp_s!r}") from None
        if not math.isfinite(t):
            raise InputError(f"timestamp must be a finite number of seconds, got {timestamp_s!r}")
        bgr = load_bgr(frame, self.color_order)
        with self._lock:
            if self.last_time is not None and t <= self.last_time:
                raise InputError(f"timestamps must increase: {t} s came after {self.last_time} s")
            self.last_time = t
            dets, ids = self._detections(bgr, t)
            n = self.count if index is None else int(index)
            self.count += 1
            raw = self.pipeline.classify(bgr, dets)
            half_life = self.options.smoothing_half_life_s
            if half_life > 0 and len(dets):
                probs = np.stack([smooth(self.tracker.track(i), p, t, half_life) for i, p in zip(ids, raw)])
                faces = self.pipeline.faces(dets, probs, ids, raw)
            else:
                faces = self.pipeline.faces(dets, raw, ids)
        return FrameResult(n, t, faces, self.pipeline.classes)

    def state_dict(self) -> dict[str, Any]:
        """The stream's state as plain JSON types; ``load_state_dict`` on a new stream with the same
        options continues it exactly."""
        with self._lock:
            return {
                "count": self.count,
                "last_time": self.last_time,
                "last_scan": self.last_scan,
                "windows": [[tid, *w] for tid, w in self._windows.items()],
                "tracker": self.tracker.state_dict(),
                "last_detections": [[tid, _detection_state(d)] for tid, d in self._last_detections.items()],
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.count = int(state["count"])
            self.last_time = state["last_time"]
            self.last_scan = state.get("last_scan")
            self._windows = {int(w[0]): tuple(int(v) for v in w[1:]) for w in state.get("windows", [])}
            self.tracker.load_state_dict(state["tracker"])
            self._last_detections = {int(tid): _detection_from_state(d) for tid, d in state["last_detections"]}

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FaceStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _detection_state(d: Detection) -> dict[str, Any]:
    lm = None if d.landmarks is None else np.asarray(d.landmarks)
    return {"box": [float(v) for v in d.box], "score": float(d.score), "scheme": d.scheme,
            "landmarks": None if lm is None else lm.tolist(), "dtype": None if lm is None else str(lm.dtype)}


def _detection_from_state(d: dict[str, Any]) -> Detection:
    lm = None if d["landmarks"] is None else np.array(d["landmarks"], dtype=d["dtype"])
    return Detection(tuple(d["box"]), d["score"], lm, d["scheme"])
