"""FER2013 in the forms users have it: Kaggle's CSV, the npz of the shared data, image folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.labels import EMOTIONS
from ferkit.data.dataset import FaceDataset, Problem, check_arrays
from ferkit.data.npz import open_npz, per_image, read_array

#: FER2013's Usage column and npz ``usage`` codes, mapped to ferkit's split names.
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
USAGE_CODES = ("train", "val", "test")
#: how many offending line numbers an error message lists before "and N more"
SHOW_LINES = 5


def load_fer2013_npz(path: str | Path) -> FaceDataset:
    """The npz layout: ``images`` (N,48,48) uint8, ``labels`` 0-6, ``usage`` 0/1/2, optional ``source_id``."""
    path = Path(path)
    with open_npz(path, {"images", "labels"}) as data:
        images, labels = read_array(data, "images", path), read_array(data, "labels", path)
        usage = read_array(data, "usage", path) if "usage" in data.files else None
        groups = read_array(data, "source_id", path) if "source_id" in data.files else None
    check_arrays(str(path), images, labels, EMOTIONS)
    split = None
    if usage is not None:
        per_image(path, "usage", usage, len(labels))
        if not np.issubdtype(usage.dtype, np.integer) or (len(usage) and (usage.min() < 0 or usage.max() > 2)):
            bad = sorted(set(usage.tolist()) - {0, 1, 2}, key=str)[:5]
            raise InputError(f"{path}: usage codes must be 0 (train), 1 (val) or 2 (test), got {bad}")
        split = np.array(USAGE_CODES)[usage.astype(np.int64)]
    if groups is not None:
        per_image(path, "source_id", groups, len(labels))
    return FaceDataset(images, labels, EMOTIONS, groups=groups, split=split, name="fer2013")


def _lines(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:SHOW_LINES]))
    return shown + (f" and {len(lines) - SHOW_LINES} more" if len(lines) > SHOW_LINES else "")


def load_fer2013_csv(path: str | Path, size: int = 48) -> FaceDataset:
    """Kaggle's ``fer2013.csv``: columns ``emotion,pixels,Usage`` (Usage optional; header names are
    matched without regard to case; a UTF-8 byte-order mark, as Excel writes, is fine).

    A row with a bad emotion value or the wrong number of pixels is skipped and reported in
    ``problems`` with its line number. When the file has a Usage column, every row must name its split
    (Training, PublicTest or PrivateTest): a row without one, or with an unknown one, makes the file
    refused with an :class:`~ferkit.core.errors.InputError` naming the lines, since dropping the split
    would let training mix in the test images. (A Usage column empty on every row counts as no column.)
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a FER2013 .csv file")
    problems: list[Problem] = []
    images, labels, usages, usage_lines = [], [], [], []
    n_pixels = size * size
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(f or "").strip() for f in reader.fieldnames or []]
            fields = {f.lower(): f for f in header}
            if not {"emotion", "pixels"} <= set(fields):
                raise InputError(f"{path}: expected columns emotion,pixels[,Usage], "
                                 f"got {','.join(header) or 'nothing'}")
            has_usage = "usage" in fields
            for row in reader:
                line = reader.line_num
                row = {(k or "").strip().lower(): v for k, v in row.items() if isinstance(k, str)}
                if not any((v or "").strip() for v in row.values()):
                    continue  # a blank line (e.g. at the end)
                try:
                    raw = (row.get("emotion") or "").strip()
                    try:
                        label = int(raw)
                    except ValueError:
                        raise ValueError(f"emotion {raw!r} is not a number in 0..{len(EMOTIONS) - 1}") from None
                    if not 0 <= label < len(EMOTIONS):
                        raise ValueError(f"emotion {label} not in 0..{len(EMOTIONS) - 1}")
                    try:
                        pixels = np.array((row.get("pixels") or "").split(), dtype=np.int64)
                    except ValueError:
                        raise ValueError("pixel values must be whole numbers separated by spaces") from None
                    if pixels.size != n_pixels:
                        raise ValueError(f"{pixels.size} pixel values, expected {n_pixels} ({size}x{size})")
                    if pixels.min() < 0 or pixels.max() > 255:
                        raise ValueError("pixel values outside 0..255")
                except ValueError as exc:
                    problems.append(Problem(f"{path}:{line}", f"malformed row skipped: {exc}"))
                    continue
                images.append(pixels.astype(np.uint8).reshape(size, size))
                labels.append(label)
                usages.append((row.get("usage") or "").strip() if has_usage else "")
                usage_lines.append(line)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from exc
    if not images:
        first = f"; first: {problems[0]}" if problems else ""
        raise InputError(f"{path}: no usable rows ({len(problems)} malformed{first})")
    split = None
    if any(usages):
        bad = [(line, u) for line, u in zip(usage_lines, usages) if u not in USAGE_TO_SPLIT]
        if bad:
            values = sorted({u for _, u in bad})
            raise InputError(
                f"{path}: {len(bad)} row(s) have no Usage value or an unknown one "
                f"(lines {_lines([b[0] for b in bad])}; "
                f"values {', '.join(repr(v) for v in values[:SHOW_LINES])}); every row needs Training, PublicTest or "
                "PrivateTest, or else none may have one (remove the Usage column to load the file without its "
                "official split)"
            )
        split = np.array([USAGE_TO_SPLIT[u] for u in usages])
    return FaceDataset(
        np.stack(images),
        np.array(labels),
        EMOTIONS,
        split=split,
        name="fer2013",
        problems=problems,
    )
