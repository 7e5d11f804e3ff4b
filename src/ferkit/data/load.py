"""One entry point that recognises a dataset's format from its path, and where shared data lives."""

from __future__ import annotations

import os
from pathlib import Path

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.options import check_choice, check_int
from ferkit.data.ckplus import load_ckplus_folders, load_ckplus_npz
from ferkit.data.dataset import FaceDataset
from ferkit.data.fer2013 import load_fer2013_csv, load_fer2013_npz
from ferkit.data.folders import CKPLUS_NAME, load_class_folders
from ferkit.data.npz import open_npz

FORMATS = ("fer2013-npz", "fer2013-csv", "ckplus-npz", "ckplus-folders", "folders")


def detect_format(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file or folder")
    if path.is_dir():
        sample = next((f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")), None)
        if sample is not None and CKPLUS_NAME.search(sample.name):
            return "ckplus-folders"
        return "folders"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "fer2013-csv"
    if suffix == ".npz":
        with open_npz(path, set()) as data:
            return "ckplus-npz" if "subject" in data.files else "fer2013-npz"
    raise InputError(f"{path}: unknown dataset format (expected .npz, .csv or a folder of class folders)")


def load_dataset(path: str | Path, format: str | None = None, size: int = 48, progress: bool = True) -> FaceDataset:
    """Load a dataset from a path, recognising FER2013 (npz/csv/folders), CK+ (npz/folders) or any
    folder of class folders. ``size`` is the square size images are converted to (folders);
    ``progress`` shows a progress bar while image folders are read."""
    check_choice("load_dataset", "format", format, FORMATS, optional=True)
    check_int("load_dataset", "size", size, lo=1)
    path = Path(path).expanduser()
    fmt = format or detect_format(path)
    if fmt == "fer2013-npz":
        ds = load_fer2013_npz(path)
    elif fmt == "fer2013-csv":
        ds = load_fer2013_csv(path)
    elif fmt == "ckplus-npz":
        ds = load_ckplus_npz(path)
    elif fmt == "ckplus-folders":
        ds = load_ckplus_folders(path, size=size, progress=progress)
    else:
        ds = load_class_folders(path, size=size, progress=progress)
    if len(ds) == 0:
        skipped = f" ({len(ds.problems)} items skipped, e.g. {ds.problems[0]})" if ds.problems else ""
        raise InputError(f"{path}: no images{skipped}")
    return ds


def data_root() -> Path | None:
    """Where the shared datasets live: ``$FERKIT_DATA`` or ``../shared/datasets`` (from the working
    directory or the source tree); ``None`` when neither exists."""
    env = os.environ.get("FERKIT_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = Path(__file__).resolve()
    candidates = [Path.cwd() / "../shared/datasets", *(p / "../shared/datasets" for p in here.parents)]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def find_dataset(name: str) -> Path | None:
    """Path of a shared dataset by name (``fer2013`` or ``ckplus``), or ``None`` if absent."""
    root = data_root()
    if root is None:
        return None
    path = root / f"{name}.npz"
    return path if path.exists() else None
