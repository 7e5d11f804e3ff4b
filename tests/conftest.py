from __future__ import annotations

import numpy as np
import pytest
from faces_data import synthetic_faces

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


@pytest.fixture
def toy_dataset() -> FaceDataset:
    return synthetic_faces()


@pytest.fixture
def subject_dataset() -> FaceDataset:
    """Toy data without an official split: 24 subjects with one image of each class."""
    toy = synthetic_faces(n=168)
    groups = np.repeat([f"S{i:03d}" for i in range(24)], 7)
    return FaceDataset(toy.images, toy.labels, toy.classes, groups=groups, name="subjects")
