"""CK+: the npz of the shared data (subject and sequence ids) and folders of CK+ named files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferkit.data.dataset import FaceDataset
from ferkit.data.folders import ckplus_group, load_class_folders
from ferkit.core.labels import CKPLUS_CLASSES, canonical_name


def load_ckplus_npz(path: str | Path) -> FaceDataset:
    """The npz layout: ``images``, ``labels`` 0-7 (7 = contempt), ``subject``, optional ``sequence``."""
    path = Path(path)
    with np.load(path) as data:
        missing = {"images", "labels", "subject"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (has {data.files})")
        classes = CKPLUS_CLASSES
        if "label_names" in data.files:
            classes = tuple(canonical_name(str(c)) for c in data["label_names"])
        paths = data["name"] if "name" in data.files else None
        return FaceDataset(
            data["images"], data["labels"], classes, groups=data["subject"], name="ckplus", paths=paths
        )


def load_ckplus_folders(root: str | Path, size: int = 48) -> FaceDataset:
    """``root/<class>/S005_001_00000011.png``: the subject id comes from the file name."""
    return load_class_folders(root, size=size, group_fn=ckplus_group, name="ckplus")
