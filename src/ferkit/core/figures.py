"""matplotlib without a screen, for every picture ferkit writes (confusion matrices, training curves,
timelines). matplotlib is imported only by the modules that draw, when they draw."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | Path, dpi: int = 100) -> Path:
    """Lay out, save (creating the folder) and close a matplotlib figure."""
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return out
