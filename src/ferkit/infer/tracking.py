"""Giving each face a stable ``track_id`` across frames, and smoothing its probabilities in time.

Each track predicts where its face went (constant velocity); matching is one-to-one (least total cost,
:func:`assign`) on overlap with the prediction, with a centre-distance fallback; a track not seen for
``max_age_s`` ends."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ferkit.faces.detection import iou_matrix


@dataclass
class Track:
    track_id: int
    box: tuple[float, float, float, float]
    last_time: float
    hits: int = 1
    #: centre velocity in pixels per second (smoothed), for predicting where a face went
    velocity: tuple[float, float] = (0.0, 0.0)
    smoothed: np.ndarray | None = None
    smoothed_time: float | None = None


@dataclass
class FaceTracker:
    """``update(boxes, time_s)`` returns a track id per box. ``iou_threshold``: least overlap to
    match by IoU; ``max_center_shift``: otherwise, the largest centre move (in box sides) still
    matched; ``max_age_s``: how long an unseen track waits for its face."""

    iou_threshold: float = 0.3
    max_center_shift: float = 1.0
    max_age_s: float = 1.0
    next_id: int = 0
    tracks: list[Track] = field(default_factory=list)

    def predicted(self, track: Track, time_s: float) -> tuple[float, float, float, float]:
        """Where a track's box should be at ``time_s`` if it kept moving as it did."""
        dt = time_s - track.last_time
        x, y, w, h = track.box
        return (x + track.velocity[0] * dt, y + track.velocity[1] * dt, w, h)

    def _move(self, track: Track, box: tuple, time_s: float) -> None:
        dt = time_s - track.last_time
        if dt > 0:
            old = np.array(track.box[:2]) + np.array(track.box[2:]) / 2
            new = np.array(box[:2]) + np.array(box[2:]) / 2
            v = (new - old) / dt
            track.velocity = tuple(0.5 * np.array(track.velocity) + 0.5 * v) if track.hits > 1 else tuple(v)
        track.box, track.last_time, track.hits = tuple(box), time_s, track.hits + 1

    def _cost(self, boxes: np.ndarray, time_s: float) -> np.ndarray:
        prev = np.array([self.predicted(t, time_s) for t in self.tracks], dtype=np.float64)
        iou = iou_matrix(prev, boxes)
        pc = prev[:, :2] + prev[:, 2:] / 2
        bc = boxes[:, :2] + boxes[:, 2:] / 2
        side = np.maximum(prev[:, 2:].max(axis=1)[:, None], boxes[:, 2:].max(axis=1)[None])
        shift = np.linalg.norm(pc[:, None] - bc[None], axis=2) / np.maximum(side, 1e-6)
        scale = np.maximum(prev[:, 2][:, None], boxes[:, 2][None]) / np.maximum(
            np.minimum(prev[:, 2][:, None], boxes[:, 2][None]), 1e-6)
        by_iou = iou >= self.iou_threshold
        by_center = (shift <= self.max_center_shift) & (scale < 1.5)
        cost = np.where(by_iou, 1.0 - iou, np.where(by_center, 1.0 + shift, np.inf))
        return cost

    def update(self, boxes, time_s: float) -> list[int]:
        """Track ids for ``boxes`` (x, y, w, h) seen at ``time_s``; new faces get new ids."""
        self.tracks = [t for t in self.tracks if time_s - t.last_time <= self.max_age_s]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        if len(boxes) and self.tracks:
            cost = self._cost(boxes, time_s)
            for r, c in assign(np.where(np.isfinite(cost), cost, 1e6)):
                if np.isfinite(cost[r, c]):
                    track = self.tracks[r]
                    self._move(track, tuple(boxes[c]), time_s)
                    ids[c] = track.track_id
        for i, box in enumerate(boxes):
            if ids[i] < 0:
                track = Track(self.next_id, tuple(box), time_s)
                self.next_id += 1
                self.tracks.append(track)
                ids[i] = track.track_id
        return ids

    def track(self, track_id: int) -> Track:
        return next(t for t in self.tracks if t.track_id == track_id)

    def state_dict(self) -> dict[str, Any]:
        """Everything the tracker knows, as plain JSON types (floats round-trip exactly)."""
        tracks = []
        for t in self.tracks:
            d = asdict(t)
            d["box"] = [float(v) for v in t.box]
            d["velocity"] = [float(v) for v in t.velocity]
            d["smoothed"] = None if t.smoothed is None else t.smoothed.tolist()
            tracks.append(d)
        return {"next_id": self.next_id, "tracks": tracks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.next_id = int(state["next_id"])
        self.tracks = [
            Track(int(d["track_id"]), tuple(d["box"]), d["last_time"], int(d["hits"]), tuple(d["velocity"]),
                  None if d["smoothed"] is None else np.array(d["smoothed"], dtype=np.float64), d["smoothed_time"])
            for d in state["tracks"]
        ]


#: problems up to this many on each side are solved by trying every pairing
EXHAUSTIVE_UP_TO = 5


def assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """The one-to-one (row, column) pairs of least total cost, as many as the smaller side (the
    linear assignment problem). The few faces of a frame are paired by trying every pairing (at most
    120), which spares a video the half second scipy.optimize takes to import; larger problems go
    to scipy's Hungarian solver."""
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if not n or not m:
        return []
    if max(n, m) > EXHAUSTIVE_UP_TO:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols)]
    flip = n > m
    c = cost.T if flip else cost
    rows = range(c.shape[0])
    best, pairs = np.inf, ()
    for cols in itertools.permutations(range(c.shape[1]), c.shape[0]):
        total = c[rows, cols].sum()
        if total < best:
            best, pairs = total, cols
    return sorted((int(j), int(i)) if flip else (int(i), int(j)) for i, j in zip(rows, pairs))


def smooth(track: Track, probs: np.ndarray, time_s: float, half_life_s: float) -> np.ndarray:
    """Exponential moving average of a track's probabilities with a time constant, so it behaves
    the same at any sampling rate: a value ``half_life_s`` old counts half as much as a new one."""
    probs = np.asarray(probs, dtype=np.float64)
    if half_life_s <= 0 or track.smoothed is None or track.smoothed_time is None:
        track.smoothed = probs.copy()
    else:
        dt = max(0.0, time_s - track.smoothed_time)
        keep = 0.5 ** (dt / half_life_s)
        track.smoothed = keep * track.smoothed + (1 - keep) * probs
        track.smoothed /= track.smoothed.sum()
    track.smoothed_time = time_s
    return track.smoothed
