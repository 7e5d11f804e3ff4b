"""Faces per second of a model on this host, preprocessing included, and what the host is."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from ferkit.infer.classifier import EmotionClassifier


def faces_per_second(clf: EmotionClassifier, faces: np.ndarray, seconds: float, batch: int = 64) -> float:
    """Faces/s of ``clf.predict_proba`` on ``faces`` (uint8, the dataset's size) in batches of ``batch``."""
    clf.predict_proba(faces[:batch], batch_size=batch)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        clf.predict_proba(faces[:batch], batch_size=batch)
        n += min(batch, len(faces))
    return n / (time.perf_counter() - start)


def host_cpu() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def speed_record(model: str | Path, faces: np.ndarray, threads: int = 2, seconds: float = 1.0,
                 rounds: int = 3) -> dict:
    """Median faces/s over ``rounds`` at batch 1 and batch 64 with ``threads`` ONNX Runtime threads,
    with the host they were measured on and the model's MACs per face."""
    from ferkit.export.onnx import onnx_macs

    clf = EmotionClassifier(model, threads=threads)
    runs: dict[int, list[float]] = {1: [], 64: []}
    for _ in range(rounds):
        for batch, figures in runs.items():
            figures.append(faces_per_second(clf, faces, seconds, batch))
    return {"host": host_cpu(), "threads": threads, "macs": onnx_macs(model),
            "faces_per_second_batch1": round(float(np.median(runs[1])), 1),
            "faces_per_second_batch64": round(float(np.median(runs[64])), 1)}
