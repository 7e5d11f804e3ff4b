"""Checks for option objects, run when they are made: each names the field, what it got and what is
allowed, and raises :class:`~ferkit.core.errors.OptionError`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

from ferkit.core.errors import OptionError


def _where(owner: str, name: str) -> str:
    return f"{owner}.{name}" if owner else name


def check_int(owner: str, name: str, value: Any, lo: int | None = None, hi: int | None = None,
              optional: bool = False) -> int | None:
    """An integer (not a bool, not a float) in [lo, hi]; None passes when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise OptionError(f"{_where(owner, name)} must be an integer{_range(lo, hi)}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise OptionError(f"{_where(owner, name)} must be{_range(lo, hi)}, got {value}")
    return int(value)


def check_float(owner: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
                optional: bool = False, lo_open: bool = False) -> float | None:
    """A finite real number in [lo, hi] (or (lo, hi] with ``lo_open``); None passes when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise OptionError(f"{_where(owner, name)} must be a number{_range(lo, hi, lo_open)}, got {value!r}")
    v = float(value)
    if (lo is not None and (v < lo or (lo_open and v == lo))) or (hi is not None and v > hi):
        raise OptionError(f"{_where(owner, name)} must be{_range(lo, hi, lo_open)}, got {value}")
    return v


def check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{_where(owner, name)} must be true or false, got {value!r}")
    return value


def check_choice(owner: str, name: str, value: Any, allowed: Iterable[Any], optional: bool = False) -> Any:
    """One of ``allowed`` (listed in the message when it is not)."""
    if value is None and optional:
        return None
    allowed = list(allowed)
    if value not in allowed:
        raise OptionError(f"{_where(owner, name)} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def check_str(owner: str, name: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise OptionError(f"{_where(owner, name)} must be a string, got {value!r}")
    return value


def _range(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""
