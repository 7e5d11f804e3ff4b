"""Inference throughput of the bundled default model: faces/s in PyTorch vs ONNX Runtime, at batch 1
and 64, preprocessing included. Prints a Markdown table.

    python benchmarks/inference_throughput.py [--model PATH.onnx] [--seconds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ferkit.core.preprocess import model_input
from ferkit.infer.classifier import DEFAULT_MODEL, EmotionClassifier
from ferkit.models import create


def rate(fn, n_faces: int, seconds: float) -> float:
    fn()
    count, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        fn()
        count += n_faces
    return count / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    clf = EmotionClassifier(args.model)
    arch = dict(clf.info["model"])
    net = create(arch.pop("name"), **arch).eval().to(memory_format=torch.channels_last)
    pre = clf.preprocess
    print(f"model {args.model}: {clf.info['model']['name']}, input {pre['input_size']} px, "
          f"{torch.get_num_threads()} threads")
    print("| backend | batch | faces/s |")
    print("|---|---|---|")
    for batch in (1, 64):
        faces = np.random.default_rng(0).integers(0, 256, (batch, pre["image_size"], pre["image_size"]), dtype=np.uint8)

        def torch_run():
            with torch.no_grad():
                net(torch.from_numpy(model_input(faces, pre)).contiguous(memory_format=torch.channels_last))

        print(f"| PyTorch fp32 channels_last | {batch} | {rate(torch_run, batch, args.seconds):.0f} |", flush=True)
        print(f"| ONNX Runtime | {batch} | {rate(lambda: clf.predict_proba(faces), batch, args.seconds):.0f} |", flush=True)


if __name__ == "__main__":
    main()
