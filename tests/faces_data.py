"""Toy face datasets the tests share (importable as ``faces_data``: tests/ is on the path)."""

import numpy as np

from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset


def synthetic_faces(n: int = 140, size: int = 48, seed: int = 0, classes=EMOTIONS) -> FaceDataset:
    """Learnable toy data: each class is a central square of its own brightness on noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    images = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 8:-8, 8:-8] += np.uint8(40 + 30 * int(y))
    split = np.array(["train", "val", "test"])[np.arange(n) % 5 % 3]
    return FaceDataset(images, labels, classes, split=split, name="synthetic")


def write_faces(path, n=210, seed=0, classes=7, usage=True):
    """A learnable toy dataset in FER2013's npz layout (usage 0/1/2: train/val/test)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = rng.integers(0, 40, size=(n, 48, 48)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 8:-8, 8:-8] += np.uint8(40 + 30 * int(y))
    arrays = {"images": images, "labels": labels}
    if usage:
        arrays["usage"] = np.arange(n) % 5 % 3
    np.savez(path, **arrays)
    return path
