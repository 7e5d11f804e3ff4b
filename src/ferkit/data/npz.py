"""Reading dataset arrays from .npz files with errors that say what is wrong and where."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.paths import require_file


def open_npz(path: str | Path, required: set[str]):
    """``np.load`` of an npz holding at least ``required``, with clear errors for a missing path, a
    file that is not an npz, and missing arrays (the caller closes it: ``with open_npz(...) as data``)."""
    path = require_file(path, "an .npz file")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from exc
    if not hasattr(data, "files"):  # a plain .npy saved under an .npz name
        raise InputError(f"{path}: holds a single array, expected an .npz archive with {sorted(required)}")
    missing = required - set(data.files)
    if missing:
        data.close()
        raise InputError(f"{path}: missing arrays {sorted(missing)} (has {sorted(data.files)})")
    return data


def read_array(data, key: str, path: Path) -> np.ndarray:
    """One array of an open npz; object arrays (which need pickle) are refused clearly."""
    try:
        return data[key]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(f"{path}: array {key!r} holds Python objects, which ferkit does not unpickle; save "
                             "it as numbers or strings") from exc
        raise InputError(f"{path}: array {key!r} is damaged ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: array {key!r} is damaged ({exc})") from exc


def per_image(path: Path, key: str, value: np.ndarray, n: int) -> np.ndarray:
    """An optional per-image array (``usage``, ``subject``...) checked to hold one entry per image."""
    if value.ndim != 1 or len(value) != n:
        raise InputError(f"{path}: {key!r} has shape {value.shape}, expected ({n},): one entry per image")
    return value
