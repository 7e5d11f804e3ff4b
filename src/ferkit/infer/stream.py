"""Frames in time: detection (every k frames, tracking between), tracking and smoothing, for
live streams and for video files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferkit.faces import Detection
from ferkit.core.video_file import VideoReader
from ferkit.infer.tracking import FaceTracker, smooth


@dataclass
class VideoOptions:
    """``every``/``fps``: frame sampling (every Nth frame, or about this many per second);
    ``detect_every``: run the detector on every k-th sampled frame and reuse the tracked boxes in
    between; ``smoothing_half_life_s``: exponential smoothing of each track's probabilities
    (0: off; the raw values are kept in ``emotions_raw``); ``iou_threshold``, ``max_center_shift``,
    ``max_age_s``: tracking (see ``FaceTracker``)."""

    every: int = 1
    fps: float | None = None
    detect_every: int = 1
    smoothing_half_life_s: float = 0.5
    iou_threshold: float = 0.3
    max_center_shift: float = 1.0
    max_age_s: float = 1.0

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.smoothing_half_life_s < 0:
            raise ValueError("smoothing_half_life_s must be >= 0")


@dataclass
class FrameResult:
    frame: int
    time_s: float
    faces: list = field(default_factory=list)


class StreamAnalyzer:
    """Stateful per-stream processing: ``process(bgr, time_s)`` -> tracked ``Face`` list."""

    def __init__(self, recognizer, options: VideoOptions | None = None, first_track_id: int = 0):
        self.recognizer = recognizer
        self.options = options or VideoOptions()
        o = self.options
        self.tracker = FaceTracker(o.iou_threshold, o.max_center_shift, o.max_age_s, next_id=first_track_id)
        self.count = 0
        self.last_time: float | None = None
        self._last_detections: dict[int, Detection] = {}

    def _detections(self, bgr: np.ndarray, time_s: float) -> tuple[list[Detection], list[int]]:
        if self.count % self.options.detect_every == 0 or not self._last_detections:
            dets = self.recognizer.detector.detect(bgr)
            ids = self.tracker.update([d.box for d in dets], time_s, [d.landmarks for d in dets])
            self._last_detections = dict(zip(ids, dets))
            return dets, ids
        # between detections: the tracked faces stay where they were last seen
        alive = {t.track_id for t in self.tracker.tracks if time_s - t.last_time <= self.options.max_age_s}
        ids = [i for i in self._last_detections if i in alive]
        return [self._last_detections[i] for i in ids], ids

    def process(self, bgr: np.ndarray, time_s: float) -> list:
        if self.last_time is not None and time_s < self.last_time:
            raise ValueError(f"timestamps must not go back: {time_s} after {self.last_time}")
        self.last_time = time_s
        dets, ids = self._detections(bgr, time_s)
        self.count += 1
        rec = self.recognizer
        raw = rec.classify(rec.align(bgr, dets))
        if self.options.smoothing_half_life_s > 0 and len(dets):
            probs = np.stack([
                smooth(self.tracker.track(i), p, time_s, self.options.smoothing_half_life_s) for i, p in zip(ids, raw)
            ])
            return rec.faces_from(dets, probs, ids, raw)
        return rec.faces_from(dets, raw, ids)


class VideoIterator:
    """Iterates ``FrameResult``s of a video; ``reader`` (with ``info`` and ``skipped``) is open
    until the iteration ends or ``close()``."""

    def __init__(self, recognizer, path: str | Path, options: VideoOptions | None = None, start_frame: int = 0,
                 first_track_id: int = 0):
        self.options = options or VideoOptions()
        self.reader = VideoReader(path, self.options.every, self.options.fps, start_frame)
        self.analyzer = StreamAnalyzer(recognizer, self.options, first_track_id)
        self.last_image: np.ndarray | None = None

    def __iter__(self) -> Iterator[FrameResult]:
        try:
            for frame in self.reader:
                self.last_image = frame.image
                yield FrameResult(frame.index, frame.time_s, self.analyzer.process(frame.image, frame.time_s))
        finally:
            self.reader.close()

    def close(self) -> None:
        self.reader.close()


def iterate_video(recognizer, path: str | Path, options: VideoOptions | None = None) -> VideoIterator:
    return VideoIterator(recognizer, path, options)
