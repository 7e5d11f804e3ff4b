from __future__ import annotations

import numpy as np
import pytest

from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset, find_dataset


def shared_dataset(name: str):
    path = find_dataset(name)
    if path is None:
        pytest.skip(f"shared dataset {name}.npz not found (set FERKIT_DATA or put it in ../shared/datasets)")
    return path


@pytest.fixture
def fer2013_path():
    return shared_dataset("fer2013")


@pytest.fixture
def ckplus_path():
    return shared_dataset("ckplus")


def synthetic_faces(n: int = 140, size: int = 48, seed: int = 0, classes=EMOTIONS) -> FaceDataset:
    """Learnable toy data: each class is a central square of its own brightness on noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    images = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 8:-8, 8:-8] += np.uint8(40 + 30 * int(y))
    split = np.array(["train", "val", "test"])[np.arange(n) % 5 % 3]
    return FaceDataset(images, labels, classes, split=split, name="synthetic")


@pytest.fixture
def toy_dataset() -> FaceDataset:
    return synthetic_faces()


@pytest.fixture
def subject_dataset() -> FaceDataset:
    """Toy data without an official split: 24 subjects with one image of each class."""
    toy = synthetic_faces(n=168)
    groups = np.repeat([f"S{i:03d}" for i in range(24)], 7)
    return FaceDataset(toy.images, toy.labels, toy.classes, groups=groups, name="subjects")
