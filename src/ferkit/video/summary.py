"""Video-level summaries (per track and overall) and timeline plots, built from frame rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.labels import EMOTIONS, SENTIMENTS, sentiment_map


def _dist(values: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values)}


class SummaryBuilder:
    """Feed it frame rows (``add``); ``summary()`` gives, per track and overall, the dominant
    emotion by mean probability and by frame vote, the emotion distributions and the 3-way
    sentiment distributions. It uses each frame's own (unsmoothed) probabilities."""

    def __init__(self, classes: Sequence[str] = EMOTIONS, sentiments: str | dict = "default"):
        self.classes = tuple(classes)
        self.sentiments = sentiment_map(sentiments)
        self.frames: set[int] = set()
        self.frames_with_faces: set[int] = set()
        self.series: dict[int, list[tuple[float, np.ndarray, np.ndarray]]] = {}
        self.sizes: dict[int, list[float]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.frames.add(int(row["frame"]))
        if row.get("track_id") is None:
            return
        self.frames_with_faces.add(int(row["frame"]))
        tid = int(row["track_id"])
        raw = row.get("emotions_raw") or row["emotions"]
        shown = row["emotions"]
        self.series.setdefault(tid, []).append((
            float(row["time_s"]),
            np.array([raw[c] for c in self.classes], dtype=np.float32),
            np.array([shown[c] for c in self.classes], dtype=np.float32),
        ))
        self.sizes.setdefault(tid, []).append(float(row["box"][2]))

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

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

    def plot_timeline(self, out: str | Path, title: str = "", max_tracks: int = 6) -> Path | None:
        """One panel per track (the ``max_tracks`` longest): each emotion's probability over time
        (smoothed when smoothing was on). None when there is no face to plot."""
        if not self.series:
            return None
        from ferkit.core.figures import pyplot, save_figure
        from ferkit.core.labels import EMOTION_COLORS

        plt = pyplot()

        tids = sorted(self.series, key=lambda t: -len(self.series[t]))[:max_tracks]
        tids.sort()
        fig, axes = plt.subplots(len(tids), 1, figsize=(10, 2.2 * len(tids) + 0.6), sharex=True, squeeze=False)
        for ax, tid in zip(axes[:, 0], tids):
            items = self.series[tid]
            t = np.array([x[0] for x in items])
            shown = np.stack([x[2] for x in items]).astype(np.float64)
            if len(t) > 2:  # break the lines where the face was not seen
                gaps = np.flatnonzero(np.diff(t) > 3 * np.median(np.diff(t)))
                t = np.insert(t, gaps + 1, t[gaps] + 1e-6)
                shown = np.insert(shown, gaps + 1, np.nan, axis=0)
            for i, c in enumerate(self.classes):
                b, g, r = EMOTION_COLORS.get(c, (128, 128, 128))
                ax.plot(t, shown[:, i], ".-" if len(t) < 40 else "-", ms=3, lw=1.4, color=(r / 255, g / 255, b / 255), label=c)
            ax.set_ylim(0, 1)
            ax.set_ylabel(f"track {tid}")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(ncol=len(self.classes), fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.02))
        axes[-1, 0].set_xlabel("time (s)")
        if title:
            fig.suptitle(title, y=0.995, fontsize=10)
        return save_figure(fig, out, dpi=110)
