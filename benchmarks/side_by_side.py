"""Faces/s of several models measured side by side: rounds alternate between the models, so a noisy machine
slows them alike; medians per model at batch 1 and 64 (ONNX Runtime or PyTorch, 2 threads by default,
preprocessing included). How a new default is shown to be "no slower" than the one it replaces.

    python benchmarks/side_by_side.py OLD.onnx NEW.onnx [--rounds 6] [--seconds 1.5] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

from ferkit.export.speed import faces_per_second, host_cpu
from ferkit.infer.classifier import EmotionClassifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model files or bundled names")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=1.5, help="per model, batch size and round")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        ap.error("--rounds must be 1 or more and --seconds above 0")
    if len(set(args.models)) != len(args.models):
        ap.error("a model is named twice: name each once")
    clfs = [EmotionClassifier(m, threads=args.threads) for m in args.models]
    print(f"{host_cpu()}, {args.threads} threads, {args.rounds} alternating rounds of {args.seconds} s, medians")
    print("| model | faces/s batch 1 | faces/s batch 64 |\n|---|---|---|")
    figures = {m: {1: [], 64: []} for m in args.models}
    for _ in range(args.rounds):
        for batch in (1, 64):
            for m, clf in zip(args.models, clfs):
                size = clf.image_size
                faces = np.random.default_rng(0).integers(0, 256, (batch, size, size), dtype=np.uint8)
                figures[m][batch].append(faces_per_second(clf, faces, args.seconds, batch))
    for m in args.models:
        print(f"| {m} | {np.median(figures[m][1]):,.0f} | {np.median(figures[m][64]):,.0f} |")


if __name__ == "__main__":
    main()
