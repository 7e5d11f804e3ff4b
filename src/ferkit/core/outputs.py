"""Checks on output paths made before any work starts, so a run never fails at its end for a place
it could not write, and never writes over one of its inputs. Nothing is created by the checks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ferkit.core.errors import OutputError, OutputExistsError


def _nearest_existing(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")


def check_writable(path: str | Path, overwrite: bool = False, resume: bool = False,
                   inputs: Iterable[str | Path] = ()) -> Path:
    """Fail when the file ``path`` cannot be written: it is one of ``inputs``, it exists (unless
    ``overwrite`` or ``resume``), it is a folder, or its folder cannot be made or written to."""
    path = Path(path)
    resolved = path.resolve()
    for given in inputs:
        if Path(given).resolve() == resolved:
            raise OutputExistsError(f"{path}: is one of the inputs; an output never replaces an input")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not (overwrite or resume):
        raise OutputExistsError(f"{path}: exists; use --overwrite to replace it")
    check_folder_writable(path.parent, what=str(path))
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: no permission to write it")
    return path


def check_folder_writable(folder: str | Path, what: str | None = None) -> Path:
    """Fail when files cannot be made in ``folder`` (made later if it does not exist yet)."""
    folder = Path(folder)
    what = what or str(folder)
    base = folder if folder.exists() else _nearest_existing(folder)
    if not base.is_dir():
        raise OutputError(f"{what}: cannot create its folder ({base} is a file)")
    if not os.access(base, os.W_OK | os.X_OK) or _read_only(base):
        raise OutputError(f"{what}: no permission to write in {base}")
    return folder


def _read_only(folder: Path) -> bool:
    """A read-only file system (os.access does not see one for root)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
