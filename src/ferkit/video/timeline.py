"""Timeline pictures: each emotion's probability over time, one panel per track."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferkit.core.figures import pyplot, save_figure
from ferkit.core.labels import EMOTION_COLORS
from ferkit.video.summary import SummaryBuilder


def plot_timeline(builder: SummaryBuilder, out: str | Path, title: str = "", max_tracks: int = 6) -> Path | None:
    """One panel per track (the ``max_tracks`` longest): each emotion's probability over time
    (smoothed when smoothing was on). None when there is no face to plot."""
    if not builder.series:
        return None
    plt = pyplot()

    tids = sorted(builder.series, key=lambda t: -len(builder.series[t]))[:max_tracks]
    tids.sort()
    fig, axes = plt.subplots(len(tids), 1, figsize=(10, 2.2 * len(tids) + 0.6), sharex=True, squeeze=False)
    for ax, tid in zip(axes[:, 0], tids):
        items = builder.series[tid]
        t = np.array([x[0] for x in items])
        shown = np.stack([x[2] for x in items]).astype(np.float64)
        if len(t) > 2:  # break the lines where the face was not seen
            gaps = np.flatnonzero(np.diff(t) > 3 * np.median(np.diff(t)))
            t = np.insert(t, gaps + 1, t[gaps] + 1e-6)
            shown = np.insert(shown, gaps + 1, np.nan, axis=0)
        for i, c in enumerate(builder.classes):
            b, g, r = EMOTION_COLORS.get(c, (128, 128, 128))
            ax.plot(t, shown[:, i], ".-" if len(t) < 40 else "-", ms=3, lw=1.4, color=(r / 255, g / 255, b / 255), label=c)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"track {tid}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(ncol=len(builder.classes), fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.02))
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, y=0.995, fontsize=10)
    return save_figure(fig, out, dpi=110)
