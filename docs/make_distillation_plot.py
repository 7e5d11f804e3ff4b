"""The README's distillation picture: PublicTest accuracy per epoch of runs that differ only in how the
teacher is used (cached: its outputs on the clean training images; online: on every augmented batch).

    python docs/make_distillation_plot.py --run cached=docs/fast_model_cached_metrics.csv \\
        --run online=docs/fast_model_online_metrics.csv --out docs/images/distillation_online_vs_cached.png
"""

from __future__ import annotations

import argparse

from ferkit.core.figures import pyplot, save_figure
from ferkit.train.plots import read_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, metavar="NAME=METRICS.csv",
                    help="a run's label and its metrics.csv (repeat)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="fast model (pruned 0.5), distilled from the default: PublicTest accuracy")
    args = ap.parse_args()
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for spec in args.run:
        name, _, path = spec.partition("=")
        rows = read_metrics(path)
        epochs = [r["epoch"] for r in rows]
        acc = [100 * r["val_acc"] for r in rows]
        best = max(range(len(acc)), key=acc.__getitem__)
        line, = ax.plot(epochs, acc, lw=1.6, label=f"{name} (best {acc[best]:.2f}% at epoch {epochs[best]:.0f})")
        ax.plot([epochs[best]], [acc[best]], "o", color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel("PublicTest accuracy (%)")
    ax.set_title(args.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    print(save_figure(fig, args.out, dpi=110))


if __name__ == "__main__":
    main()
