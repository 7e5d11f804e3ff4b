"""Accuracy against speed and size, in one run: every bundled model, any checkpoints or ONNX models
given, and (with --fer-python) the `fer` package's classifier in its own environment. For each:
FER2013 PrivateTest accuracy (single view), faces/s at batch 1 and batch 64 on 2 threads with
preprocessing included (ONNX Runtime; checkpoints are exported first; the median of alternating
rounds, since this machine is noisy), MACs per face (counted from the ONNX graph) and parameters.
Prints a Markdown table; --out DIR also writes pareto.csv and pareto.png.

    python benchmarks/pareto.py --data ../shared/datasets/fer2013.npz \\
        [--models /work/runs/study_architectures_e4_l6000/runs/*/best.pt ...] \\
        [--fer-python /tmp/fervenv/bin/python] [--out docs/images/pareto]
    python benchmarks/pareto.py --replot docs/images/pareto/pareto.csv   # table and plot again, no measuring
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ferkit.data import load_dataset
from ferkit.evaluate import evaluate
from ferkit.export.onnx import export_onnx, onnx_macs, onnx_parameters
from ferkit.export.speed import faces_per_second
from ferkit.infer.classifier import BUNDLED_MODELS, EmotionClassifier

HERE = Path(__file__).resolve().parent


def model_files(patterns: list[str], folder: Path) -> dict[str, Path]:
    """name -> ONNX file: bundled models, then the given files (checkpoints exported into ``folder``)."""
    found = {f"bundled: {name}": path for name, path in BUNDLED_MODELS.items()}
    for pattern in patterns:
        for hit in sorted(glob.glob(pattern)) or [pattern]:
            path = Path(hit)
            name = path.parent.name if path.stem in ("best", "last") else path.stem
            if path.suffix == ".pt":
                onnx_path = folder / f"{len(found)}_{name}.onnx"
                export_onnx(path, onnx_path)
                path = onnx_path
            found[name] = path
    return found


def measure(models: dict[str, Path], data: str, seconds: float, rounds: int) -> list[dict]:
    rows = []
    clfs = {name: EmotionClassifier(path, threads=2) for name, path in models.items()}
    faces = {}
    for name, clf in clfs.items():
        report = evaluate(clf, data, split="test")
        size = clf.image_size
        if size not in faces:
            faces[size] = load_dataset(data, size=size, progress=False).select_split("test").images[:256]
        rows.append({"model": name, "accuracy": report["accuracy"], "n": report["n"], "macs": onnx_macs(models[name]),
                     "params": onnx_parameters(models[name]), "b1": [], "b64": []})
    for _ in range(rounds):  # alternating rounds: a busy moment hits every model alike
        for row, clf in zip(rows, clfs.values()):
            row["b1"].append(faces_per_second(clf, faces[clf.image_size], seconds, batch=1))
            row["b64"].append(faces_per_second(clf, faces[clf.image_size], seconds, batch=64))
    for row in rows:
        row["faces_per_s_b1"] = float(np.median(row.pop("b1")))
        row["faces_per_s_b64"] = float(np.median(row.pop("b64")))
    return rows


def fer_rows(python: str, data: str, seconds: float) -> list[dict]:
    done = subprocess.run([python, str(HERE / "fer_classifier.py"), data, "--seconds", str(seconds)], check=True,
                          capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        row["macs"] = None  # not counted for TensorFlow graphs
    return rows


ZOOM_FROM = 55.0  # % PrivateTest: the lower panels show the trained models (and fer) from here up


def label_groups(points: list[tuple[float, float, str]], log_x: float, y: float) -> list[tuple[float, float, str]]:
    """Points closer than ``log_x`` decades and ``y`` points, merged into one point with their names stacked."""
    groups: list[list[tuple[float, float, str]]] = []
    for x0, y0, name in sorted(points, key=lambda p: -p[1]):
        for g in groups:
            if abs(np.log10(g[0][0]) - np.log10(x0)) < log_x and abs(g[0][1] - y0) < y:
                g.append((x0, y0, name))
                break
        else:
            groups.append([(x0, y0, name)])
    return [(g[0][0], g[0][1], "\n".join(p[2] for p in g)) for g in groups]


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy against faces/s at batch 1 and 64 and against MACs; the top row shows every model, the bottom row zooms
    in on those above ZOOM_FROM, with names of coinciding points stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 3, figsize=(19, 10), constrained_layout=True)
    for col, (key, label) in enumerate((("faces_per_s_b1", "faces/s, one at a time, 2 threads (log)"),
                                        ("faces_per_s_b64", "faces/s, batch 64, 2 threads (log)"),
                                        ("macs", "MACs per face (log)"))):
        for zoom, ax in enumerate(axes[:, col]):
            points = []
            for row in rows:
                acc = 100 * row["accuracy"]
                if not row.get(key) or (zoom and acc < ZOOM_FROM):
                    continue
                fer = row["model"].startswith("fer ")
                ax.scatter(row[key], acc, marker="s" if fer else "o", color="C3" if fer else "C0")
                if zoom or acc < ZOOM_FROM:
                    points.append((row[key], acc, row["model"].replace("bundled: ", "")))
            for x, y, text in label_groups(points, 0.1 if zoom else 0.04, 0.6 if zoom else 2.0):
                ax.annotate(text, (x, y), fontsize=8, xytext=(5, 0), textcoords="offset points", va="top")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(label)
            ax.set_ylabel("FER2013 PrivateTest accuracy, single view (%)")
            ax.grid(alpha=0.3)
    axes[0, 0].set_title("accuracy against speed, batch 1 (squares: the fer package)")
    axes[0, 1].set_title("accuracy against speed, batch 64")
    axes[0, 2].set_title("accuracy against work per face")
    for ax in axes[1]:
        ax.set_title(f"the same, models above {ZOOM_FROM:.0f}%")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(rows: list[dict]) -> None:
    print("| model | PrivateTest acc. | faces/s batch 1 | faces/s batch 64 | MACs/face | parameters |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        macs = f"{r['macs'] / 1e6:.1f}M" if r.get("macs") else "n/a"
        print(f"| {r['model']} | {100 * r['accuracy']:.2f}% | {r['faces_per_s_b1']:,.0f} | {r['faces_per_s_b64']:,.0f} "
              f"| {macs} | {r['params']:,} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="fer2013.npz")
    ap.add_argument("--models", nargs="*", default=[], help="more ONNX models or checkpoints (globs too)")
    ap.add_argument("--fer-python", default=None, help="python of an environment with fer==25.10.3")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of each timing")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None, help="folder for pareto.csv and pareto.png")
    ap.add_argument("--replot", metavar="PARETO_CSV", help="measure nothing: print the table and redraw the plot "
                    "(into --out, or beside the file) from an earlier run's pareto.csv")
    args = ap.parse_args()
    if args.replot:
        import pandas as pd

        if not Path(args.replot).is_file():
            ap.error(f"--replot: no such file: {args.replot}")
        table = pd.read_csv(args.replot)
        rows = table.astype(object).where(table.notna(), None).to_dict("records")  # fer's MACs: empty, not NaN
        print_table(rows)
        png = Path(args.out or Path(args.replot).parent) / "pareto.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        plot(rows, png)
        print(f"\nwrote {png}")
        return
    if not args.data:
        ap.error("--data is required (or --replot PARETO_CSV)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(model_files(args.models, Path(tmp)), args.data, args.seconds, args.rounds)
    if args.fer_python:
        rows += fer_rows(args.fer_python, args.data, args.seconds * args.rounds)
    rows.sort(key=lambda r: -r["faces_per_s_b64"])
    print_table(rows)
    if args.out:
        import pandas as pd

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(out / "pareto.csv", index=False)
        plot(rows, out / "pareto.png")
        print(f"\nwrote {out / 'pareto.csv'} and {out / 'pareto.png'}")


if __name__ == "__main__":
    main()
