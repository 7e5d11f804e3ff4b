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


def file_digest(path: str | Path, length: int = 16) -> str:
    """The first ``length`` hex digits of a file's SHA-256, read in 1 MB blocks."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]
