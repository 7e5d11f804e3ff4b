"""CK+: the npz of the shared data (subject and sequence ids) and folders of CK+ named files."""

from __future__ import annotations

from pathlib import Path

from ferkit.core.errors import InputError
from ferkit.core.labels import ALIASES, CKPLUS_CLASSES, canonical_name
from ferkit.data.dataset import FaceDataset, check_arrays
from ferkit.data.folders import ckplus_group, load_class_folders
from ferkit.data.npz import open_npz, per_image, read_array


def load_ckplus_npz(path: str | Path) -> FaceDataset:
    """The npz layout: ``images``, ``labels`` 0-7 (7 = contempt), ``subject``, optional ``sequence``,
    ``label_names`` and ``name``."""
    path = Path(path)
    with open_npz(path, {"images", "labels", "subject"}) as data:
        images, labels = read_array(data, "images", path), read_array(data, "labels", path)
        subject = read_array(data, "subject", path)
        names = read_array(data, "label_names", path) if "label_names" in data.files else None
        paths = read_array(data, "name", path) if "name" in data.files else None
    classes = CKPLUS_CLASSES
    if names is not None:
        unknown = [str(c) for c in names.ravel() if str(c).strip().lower() not in ALIASES]
        if unknown:
            raise InputError(f"{path}: label_names {unknown} are not emotion names; "
                             f"known: {', '.join(sorted(ALIASES))}")
        classes = tuple(canonical_name(str(c)) for c in names.ravel())
    check_arrays(str(path), images, labels, classes)
    per_image(path, "subject", subject, len(labels))
    if paths is not None:
        per_image(path, "name", paths, len(labels))
    return FaceDataset(images, labels, classes, groups=subject, name="ckplus", paths=paths)


def load_ckplus_folders(root: str | Path, size: int = 48, progress: bool = False) -> FaceDataset:
    """``root/<class>/S005_001_00000011.png``: the subject id comes from the file name."""
    return load_class_folders(root, size=size, group_fn=ckplus_group, name="ckplus", progress=progress)
