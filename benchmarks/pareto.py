"""Accuracy against speed and size, in one run: every bundled model, any checkpoints or ONNX models
given, and (with --fer-python) the `fer` package's classifier in its own environment. For each:
FER2013 PrivateTest accuracy (single view), faces/s at batch 1 and batch 64 on 2 threads with
preprocessing included (ONNX Runtime; checkpoints are exported first; the median of alternating
rounds, since this machine is noisy), MACs per face (counted from the ONNX graph) and parameters.
Prints a Markdown table; --out DIR also writes pareto.csv and pareto.png.

    python benchmarks/pareto.py --data ../shared/datasets/fer2013.npz \\
        [--models /work/runs/study_architectures_e4_l6000/runs/*/best.pt ...] \\
        [--fer-python /tmp/fervenv/bin/python] [--out docs/images/pareto]
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


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    for ax, key, label in ((axes[0], "faces_per_s_b64", "faces/s, batch 64, 2 threads (log)"),
                           (axes[1], "macs", "MACs per face (log)")):
        for row in rows:
            if not row.get(key):
                continue
            fer = row["model"].startswith("fer ")
            ax.scatter(row[key], 100 * row["accuracy"], marker="s" if fer else "o", color="C3" if fer else "C0")
            ax.annotate(row["model"].replace("bundled: ", ""), (row[key], 100 * row["accuracy"]), fontsize=8,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("FER2013 PrivateTest accuracy, single view (%)")
        ax.grid(alpha=0.3)
    axes[0].set_title("accuracy against speed (squares: the fer package)")
    axes[1].set_title("accuracy against work per face")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="fer2013.npz")
    ap.add_argument("--models", nargs="*", default=[], help="more ONNX models or checkpoints (globs too)")
    ap.add_argument("--fer-python", default=None, help="python of an environment with fer==25.10.3")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of each timing")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None, help="folder for pareto.csv and pareto.png")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(model_files(args.models, Path(tmp)), args.data, args.seconds, args.rounds)
    if args.fer_python:
        rows += fer_rows(args.fer_python, args.data, args.seconds * args.rounds)
    rows.sort(key=lambda r: -r["faces_per_s_b64"])
    print("| model | PrivateTest acc. | faces/s batch 1 | faces/s batch 64 | MACs/face | parameters |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        macs = f"{r['macs'] / 1e6:.1f}M" if r.get("macs") else "n/a"
        print(f"| {r['model']} | {100 * r['accuracy']:.2f}% | {r['faces_per_s_b1']:,.0f} | {r['faces_per_s_b64']:,.0f} "
              f"| {macs} | {r['params']:,} |")
    if args.out:
        import pandas as pd

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(out / "pareto.csv", index=False)
        plot(rows, out / "pareto.png")
        print(f"\nwrote {out / 'pareto.csv'} and {out / 'pareto.png'}")


if __name__ == "__main__":
    main()
