"""Checks on input paths: one wording for a missing path or a folder where a file is expected."""

from __future__ import annotations

from pathlib import Path

from ferkit.core.errors import InputError, MissingInputError


def require_file(path: str | Path, expected: str, error: type[InputError] = InputError) -> Path:
    """``path`` as a Path when it is an existing file; MissingInputError when it does not exist, and
    ``error`` (an InputError) when it is a folder. ``expected`` says what was wanted ("an image")."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file")
    if path.is_dir():
        raise error(f"{path}: is a folder, expected {expected}")
    return path
