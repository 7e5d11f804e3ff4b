"""Streams: frames in time, with their own state (like MediaPipe's video and live-stream modes).

A :class:`FaceStream` is made by ``Recognizer.open_stream(VideoOptions(...))``; each
``process(frame, timestamp_s)`` runs the shared pipeline (on every ``detect_every``-th frame the
detector, in between the tracked faces), gives each face a ``track_id`` and smooths its
probabilities in time. Timestamps must be finite and increase. Its state can be saved and restored
(``state_dict``/``load_state_dict``), so a resumed video continues exactly where it stopped."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.inputs import load_bgr
from ferkit.faces import Detection
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
        self._lock = threading.Lock()
        self.closed = False

    def _detections(self, bgr: np.ndarray, time_s: float) -> tuple[list[Detection], list[int]]:
        if self.count % self.options.detect_every == 0 or not self._last_detections:
            dets = self.pipeline.detect(bgr)
            ids = self.tracker.update([d.box for d in dets], time_s)
            self._last_detections = dict(zip(ids, dets))
            return dets, ids
        # between detections: the tracked faces stay where they were last seen
        alive = {t.track_id for t in self.tracker.tracks if time_s - t.last_time <= self.options.max_age_s}
        ids = [i for i in self._last_detections if i in alive]
        return [self._last_detections[i] for i in ids], ids

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
                "tracker": self.tracker.state_dict(),
                "last_detections": [[tid, _detection_state(d)] for tid, d in self._last_detections.items()],
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.count = int(state["count"])
            self.last_time = state["last_time"]
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
