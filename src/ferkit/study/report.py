"""A study's report: ``study.csv`` (one row per run and seed), ``study.md`` (runs with mean +/- std over
seeds, the plots, links to each run's confusion matrices) and the plots: test accuracy against MACs,
per-class F1 heatmap, overlaid validation curves."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.figures import pyplot, save_figure

#: study.csv columns before the cross-dataset ones
COLUMNS = ["run", "seed", "model", "params", "macs_m", "train_minutes", "epochs_run", "best_epoch", "val_acc",
           "test_acc", "test_acc_flip", "test_balanced_acc", "test_macro_f1", "test_top2", "test_top3"]
#: the figures averaged over seeds in study.md: (column, heading)
SUMMARY = [("val_acc", "val acc"), ("test_acc", "test acc"), ("test_acc_flip", "test acc (flip)"),
           ("test_balanced_acc", "test bal. acc"), ("test_macro_f1", "test macro-F1"), ("test_top2", "top-2"),
           ("test_top3", "top-3")]


def csv_row(r: dict[str, Any], cross: list[str]) -> dict[str, Any]:
    test, flip = r["test"], r["test_flip"]
    row = {
        "run": r["run"], "seed": "" if r["seed"] is None else r["seed"], "model": r["model"],
        "params": r["params"], "macs_m": round(r["macs"] / 1e6, 2), "train_minutes": r["train_minutes"],
        "epochs_run": r.get("epochs_run") or "", "best_epoch": r.get("best_epoch") or "",
        "val_acc": r["val"]["accuracy"], "test_acc": test["accuracy"], "test_acc_flip": flip["accuracy"],
        "test_balanced_acc": test["balanced_accuracy"], "test_macro_f1": test["macro_f1"],
        "test_top2": test.get("top2_accuracy", ""), "test_top3": test.get("top3_accuracy", ""),
    }
    for name in cross:
        c = r["cross"].get(name, {})
        row[f"cross_{name}_acc"] = c.get("none", {}).get("accuracy", "")
        row[f"cross_{name}_acc_flip"] = c.get("flip", {}).get("accuracy", "")
    row["faces_per_s"] = r["faces_per_s"]
    return row


def _mean_std(values: list[float]) -> str:
    values = [v for v in values if v != ""]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * np.mean(values):.2f} ± {100 * np.std(values, ddof=1):.2f}"


def grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["run"]].append(row)
    return dict(groups)


def plot_accuracy_vs_macs(rows: list[dict], out: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7.5, 5))
    for run, group in grouped(rows).items():
        macs = group[0]["macs_m"]
        accs = [100 * g["test_acc"] for g in group]
        ax.scatter([macs] * len(accs), accs, s=30)
        ax.annotate(run, (macs, float(np.mean(accs))), textcoords="offset points", xytext=(5, 3), fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="multiply-accumulates per face (millions, log scale)", ylabel="test accuracy (%), single view",
           title="Test accuracy against compute")
    ax.grid(alpha=0.3)
    return save_figure(fig, out)


def plot_per_class_f1(results: list[dict], out: Path) -> Path:
    runs = grouped(results)
    classes = list(results[0]["test"]["per_class_f1"])
    grid = np.array([[np.mean([r["test"]["per_class_f1"][c] for r in group]) for c in classes]
                     for group in runs.values()])
    fig, ax = pyplot().subplots(figsize=(1.1 * len(classes) + 3, 0.45 * len(runs) + 1.6))
    ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if grid[i, j] > 0.6 else "white")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(runs)), list(runs))
    ax.set_title("Test F1 per class (mean over seeds)")
    return save_figure(fig, out)


def read_val_curve(run_dir: Path) -> tuple[list[int], list[float]]:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return [], []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [int(r["epoch"]) for r in rows], [100 * float(r["val_acc"]) for r in rows]


def plot_val_curves(results: list[dict], out_dir: Path, out: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(7.5, 5))
    for r in results:
        if r["seed"] is None:
            continue
        epochs, acc = read_val_curve(out_dir / "runs" / f"{r['run']}-s{r['seed']}")
        if epochs:
            ax.plot(epochs, acc, marker="o", markersize=3, label=f"{r['run']} (seed {r['seed']})")
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out)


def markdown(spec, rows: list[dict], results: list[dict], units_total: int, epochs: int | None,
             limit: int | None, command: str, cross: list[str]) -> str:
    lines = [f"# Study: {spec.name}", ""]
    if spec.description:
        lines += [spec.description, ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    quick = []
    if epochs is not None:
        quick.append(f"--epochs {epochs}")
    if limit is not None:
        quick.append(f"--limit {limit} training images per run")
    finished = len({(r["run"], r["seed"]) for r in results if r["seed"] is not None})
    lines += [
        (f"Dataset: `{Path(spec.data).name}`. The validation split picks each run's checkpoint; the test split is "
         "evaluated once per run and reported only."),
        f"Runs finished: {finished} of {units_total}."
        + (f" Quick version: {', '.join(quick)}." if quick else ""), "",
    ]
    heads = ["run", "model", "seeds", "params", "MACs/face", "train min"] + [h for _, h in SUMMARY]
    heads += [f"{c} acc (flip)" for c in cross] + ["faces/s"]
    lines += ["Accuracies in %, mean ± std over seeds; faces/s: the exported model in ONNX Runtime, batches of 64.",
              "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for run, group in grouped(rows).items():
        cells = [run, group[0]["model"], str(len(group)), f"{group[0]['params'] / 1e6:.2f}M",
                 f"{group[0]['macs_m']:.1f}M", f"{np.mean([g['train_minutes'] for g in group]):.1f}"]
        cells += [_mean_std([g[col] for g in group]) for col, _ in SUMMARY]
        cells += [f"{_mean_std([g[f'cross_{c}_acc'] for g in group])} ({_mean_std([g[f'cross_{c}_acc_flip'] for g in group])})"
                  for c in cross]
        cells.append(f"{np.mean([g['faces_per_s'] for g in group]):.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![test accuracy against MACs](accuracy_vs_macs.png)", "",
              "![per-class F1](per_class_f1.png)", "", "![validation curves](val_curves.png)", "",
              "Confusion matrices (test, single view):", ""]
    for r in results:
        key = r["run"] if r["seed"] is None else f"{r['run']}-s{r['seed']}"
        lines.append(f"- [{key}](runs/{key}/reports/test_confusion.png)")
    return "\n".join(lines) + "\n"


def write_study_report(spec, out: Path, results: list[dict], units_total: int, epochs: int | None = None,
                       limit: int | None = None, command: str = "") -> list[Path]:
    """Write study.csv, study.md and the plots for the finished runs in ``results``."""
    cross = [Path(c).stem for c in spec.cross]
    rows = [csv_row(r, cross) for r in results]
    paths = [out / "study.csv", out / "study.md"]
    with paths[0].open("w", newline="") as fh:
        columns = COLUMNS + [k for c in cross for k in (f"cross_{c}_acc", f"cross_{c}_acc_flip")] + ["faces_per_s"]
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    paths[1].write_text(markdown(spec, rows, results, units_total, epochs, limit, command, cross))
    if results:
        paths += [plot_accuracy_vs_macs(rows, out / "accuracy_vs_macs.png"),
                  plot_per_class_f1(results, out / "per_class_f1.png"),
                  plot_val_curves(results, out, out / "val_curves.png")]
    return paths
