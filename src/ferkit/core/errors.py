"""The errors ferkit raises for things a user can fix: bad input, bad options, outputs in the way.

Every one derives from :class:`FerkitError`, so a caller (the CLI among them) can tell an expected
error, reported in one line, from a programming error, which keeps its traceback. Each also derives
from the built-in exception a Python user would expect (``ValueError``, ``FileNotFoundError``...)."""

from __future__ import annotations


class FerkitError(Exception):
    """Base of every error a user can act on; its message says what is wrong and what is allowed."""


class OptionError(FerkitError, ValueError):
    """An option or config value of the wrong type, out of range, or not among the allowed names."""


class InputError(FerkitError, ValueError):
    """An input that exists but cannot be used (not an image, a damaged video, a malformed dataset)."""


class MissingInputError(FerkitError, FileNotFoundError):
    """An input path that does not exist."""


class OutputError(FerkitError, OSError):
    """An output that cannot be written (no permission, a read-only place, a file where a folder must be)."""


class OutputExistsError(FerkitError, FileExistsError):
    """An output that exists and is kept (``--overwrite`` replaces it); or one that would replace an input."""


class ResumeError(FerkitError, ValueError):
    """Saved results that cannot be continued: another input, other options, or damaged state."""
