"""Video-level summaries, per track and overall, aggregated from frame records (drawing is in
:mod:`ferkit.video.timeline`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ferkit.core.labels import EMOTIONS, SENTIMENTS, sentiment_map


def _dist(values: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values)}


class SummaryBuilder:
    """Feed it frame records (``add``); ``summary()`` gives, per track and overall, the dominant
    emotion by mean probability and by frame vote, the emotion distributions and the 3-way
    sentiment distributions. It uses each frame's own (unsmoothed) probabilities."""

    def __init__(self, classes: Sequence[str] = EMOTIONS, sentiments: str | dict = "default"):
        self.classes = tuple(classes)
        self.sentiments = sentiment_map(sentiments)
        self.frames: set[int] = set()
        self.frames_with_faces: set[int] = set()
        self.series: dict[int, list[tuple[float, np.ndarray, np.ndarray]]] = {}
        self.sizes: dict[int, list[float]] = {}

    def add(self, record: dict[str, Any]) -> None:
        """One frame record: ``{"frame", "time_s", "faces": [...]}`` (see ``ferkit.infer.results``)."""
        frame = int(record["frame"])
        self.frames.add(frame)
        for face in record.get("faces") or []:
            if face.get("track_id") is None:
                continue
            self.frames_with_faces.add(frame)
            tid = int(face["track_id"])
            raw = face.get("emotions_raw") or face["emotions"]
            shown = face["emotions"]
            self.series.setdefault(tid, []).append((
                float(record["time_s"]),
                np.array([raw[c] for c in self.classes], dtype=np.float32),
                np.array([shown[c] for c in self.classes], dtype=np.float32),
            ))
            self.sizes.setdefault(tid, []).append(float(face["box"][2]))

    def extend(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def _stats(self, probs: np.ndarray) -> dict[str, Any]:
        mean = probs.mean(axis=0)
        votes = np.bincount(probs.argmax(axis=1), minlength=len(self.classes)) / len(probs)
        sent_index = np.array([SENTIMENTS.index(self.sentiments[c]) for c in self.classes])
        sent_probs = np.zeros((len(probs), len(SENTIMENTS)))
        for i, s in enumerate(sent_index):
            sent_probs[:, s] += probs[:, i]
        sent_votes = np.bincount(sent_index[probs.argmax(axis=1)], minlength=len(SENTIMENTS)) / len(probs)
        return {
            "frames": len(probs),
            "dominant_by_mean": self.classes[int(mean.argmax())],
            "dominant_by_vote": self.classes[int(votes.argmax())],
            "mean_emotions": _dist(mean, self.classes),
            "vote_emotions": _dist(votes, self.classes),
            "sentiment_by_mean": SENTIMENTS[int(sent_probs.mean(axis=0).argmax())],
            "sentiment_by_vote": SENTIMENTS[int(sent_votes.argmax())],
            "mean_sentiment": _dist(sent_probs.mean(axis=0), SENTIMENTS),
            "vote_sentiment": _dist(sent_votes, SENTIMENTS),
        }

    def main_track(self) -> int | None:
        """The track seen in most frames (ties: the larger face)."""
        if not self.series:
            return None
        return max(self.series, key=lambda t: (len(self.series[t]), np.mean(self.sizes[t])))

    def summary(self) -> dict[str, Any]:
        tracks = {}
        for tid, items in sorted(self.series.items()):
            stats = self._stats(np.stack([p for _, p, _ in items]))
            stats["first_s"], stats["last_s"] = items[0][0], items[-1][0]
            stats["mean_face_size"] = float(np.mean(self.sizes[tid]))
            tracks[str(tid)] = stats
        all_probs = [p for items in self.series.values() for _, p, _ in items]
        return {
            "frames_sampled": len(self.frames),
            "frames_with_faces": len(self.frames_with_faces),
            "tracks": len(tracks),
            "main_track": self.main_track(),
            "overall": self._stats(np.stack(all_probs)) if all_probs else None,
            "per_track": tracks,
        }
