"""Training curves from the per-epoch metrics CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from ferkit.core.figures import pyplot, save_figure


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """Rows of metrics.csv as floats (NaN where a value is missing: a column older runs did not have)."""
    with Path(path).open(newline="") as fh:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                for row in csv.DictReader(fh)]


def plot_curves(metrics_csv: str | Path, out_png: str | Path) -> Path:
    rows = read_metrics(metrics_csv)
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc, ax_lr) = pyplot().subplots(1, 3, figsize=(13, 3.8))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in rows], label="val")
    ax_loss.set(title="loss", xlabel="epoch")
    ax_acc.plot(epochs, [r["train_acc"] for r in rows], label="train (augmented)")
    ax_acc.plot(epochs, [r["val_acc"] for r in rows], label="val")
    for key, name in (("val_balanced_acc", "val balanced acc."), ("val_macro_f1", "val macro-F1")):
        if rows and key in rows[0]:
            ax_acc.plot(epochs, [r[key] for r in rows], label=name, ls="--", alpha=0.8)
    if rows and any(r.get("val_acc_raw", r["val_acc"]) != r["val_acc"] for r in rows):
        ax_acc.plot(epochs, [r["val_acc_raw"] for r in rows], label="val (live weights; val = EMA)", alpha=0.6)
    if rows:
        best = max(rows, key=lambda r: r["val_acc"])
        ax_acc.scatter([best["epoch"]], [best["val_acc"]], color="red", zorder=3, label=f"best {best['val_acc']:.4f}")
    ax_acc.set(title="accuracy, balanced accuracy, macro-F1", xlabel="epoch")
    ax_lr.plot(epochs, [r["lr"] for r in rows])
    ax_lr.set(title="learning rate", xlabel="epoch")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    return save_figure(fig, out_png)
