"""Folders of class folders: ``root/<class>/*.png`` or ``root/<split>/<class>/*.png``."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.images import IMAGE_SUFFIXES, load_gray
from ferkit.core.labels import ALIASES, CANONICAL, canonical_name
from ferkit.data.dataset import DatasetWarning, FaceDataset, Problem

#: Folder names that mean a split, mapped to ferkit's split names.
SPLIT_DIRS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "publictest": "val",
    "test": "test",
    "testing": "test",
    "privatetest": "test",
}

#: CK+ style file names: S005_001_00000011.png -> subject S005, sequence S005_001.
CKPLUS_NAME = re.compile(r"(S\d{3})_(\d{3})")

#: The class folder names ferkit knows (any case): each canonical class with its other spellings.
KNOWN_CLASS_NAMES = ", ".join(
    c + (f" ({', '.join(a for a in sorted(ALIASES) if ALIASES[a] == c and a != c)})"
         if any(ALIASES[a] == c and a != c for a in ALIASES) else "")
    for c in CANONICAL
)


#: a dataset made by ``ferkit harvest`` holds this file; its other folders are not classes or splits
HARVEST_STATE = "harvest.json"
HARVEST_FOLDERS = frozenset({"review", "originals", "contact_sheets"})
#: harvested face files: <video id>_t<track>_f<frame>.png
HARVEST_NAME = re.compile(r"^(.+)_t\d+_f\d+$")


def harvest_group(path: Path) -> str:
    """The video a harvested face comes from (its group: splits never share one)."""
    match = HARVEST_NAME.match(path.stem)
    return match.group(1) if match else path.stem


def ckplus_group(path: Path) -> str:
    """Subject id parsed from a CK+ style file name (the whole stem when it does not match)."""
    match = CKPLUS_NAME.search(path.name)
    return match.group(1) if match else path.stem


def _subdirs(folder: Path) -> list[Path]:
    """Sub-folders, hidden ones (``.ipynb_checkpoints``, ``.git``) left out."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_dirs(root: Path, problems: list[Problem], unknown: list[Path],
                skip: frozenset[str] = frozenset()) -> list[tuple[str, Path]]:
    found = []
    for d in _subdirs(root):
        if d.name in skip:
            continue
        if d.name.strip().lower() not in ALIASES:
            problems.append(Problem(str(d), f"unknown class folder {d.name!r}, skipped (known: {KNOWN_CLASS_NAMES})"))
            unknown.append(d)
            continue
        found.append((canonical_name(d.name), d))
    return found


def _warn(message: str) -> None:
    warnings.warn(message, DatasetWarning, stacklevel=3)


def load_class_folders(
    root: str | Path,
    size: int = 48,
    classes: tuple[str, ...] | None = None,
    group_fn: Callable[[Path], str] | None = None,
    name: str | None = None,
    progress: bool = False,
) -> FaceDataset:
    """Load any folder of class folders (any image size or colour) as grayscale ``size`` x ``size``.

    With split folders (``train/``, ``val/``, ``test/`` and their common spellings) the split is
    kept. ``classes`` fixes the class order; by default the canonical order of the classes found.
    ``group_fn`` names each file's group (e.g. :func:`ckplus_group`). Unreadable files and
    unknown class folders are skipped and listed in ``problems``; an unknown class folder and a class
    folder without a readable image also raise a :class:`~ferkit.data.dataset.DatasetWarning` naming it.
    A dataset with no image at all is an :class:`~ferkit.core.errors.InputError`.
    """
    root = Path(root)
    if not root.exists():
        raise MissingInputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: not a folder (expected a folder of class folders such as {root}/happy/*.png)")
    if classes is not None:
        bad = [c for c in classes if not isinstance(c, str) or c.strip().lower() not in ALIASES]
        if bad:
            raise OptionError(f"classes {bad} are not emotion names; known: {KNOWN_CLASS_NAMES}")
        classes = tuple(canonical_name(c) for c in classes)
    problems: list[Problem] = []
    unknown: list[Path] = []
    subdirs = _subdirs(root)
    skip: frozenset[str] = frozenset()
    if (root / HARVEST_STATE).is_file():  # a harvested dataset: faces grouped by video, its own folders left out
        skip = HARVEST_FOLDERS
        subdirs = [d for d in subdirs if d.name not in skip]
        group_fn = group_fn or harvest_group
    split_dirs = [(SPLIT_DIRS[p.name.lower()], p) for p in subdirs if p.name.lower() in SPLIT_DIRS]
    if split_dirs:
        for p in subdirs:
            if p.name.lower() not in SPLIT_DIRS:
                problems.append(Problem(str(p), f"neither a split ({', '.join(sorted(set(SPLIT_DIRS)))}) nor "
                                        "inside one, skipped"))
        layout = [(split, cls, d) for split, sd in sorted(split_dirs) for cls, d in _class_dirs(sd, problems, unknown)]
    else:
        layout = [("", cls, d) for cls, d in _class_dirs(root, problems, unknown, skip)]
    if unknown:
        names = ", ".join(str(d.relative_to(root)) for d in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        message = f"{root}: {len(unknown)} unknown class folder(s) skipped: {names}; known names: {KNOWN_CLASS_NAMES}"
        if not layout:
            raise InputError(message.replace("skipped: ", "and no known one: "))
        _warn(message)
    if not layout:
        raise InputError(f"{root}: no class folders found (expected e.g. {root}/happy/*.png or "
                         f"{root}/train/happy/*.png; class names: {KNOWN_CLASS_NAMES})")

    found = {cls for _, cls, _ in layout}
    if classes is None:
        classes = tuple(c for c in CANONICAL if c in found)
    else:
        missing = found - set(classes)
        if missing:
            raise InputError(f"{root}: class folders {sorted(missing)} are not in classes {classes}")

    files = []
    per_dir: dict[Path, int] = {}
    for split, cls, d in layout:
        in_dir = [f for f in sorted(d.rglob("*")) if f.is_file() and not f.name.startswith(".")]
        per_dir[d] = 0
        files += [(split, cls, d, f) for f in in_dir]
        if not in_dir:
            problems.append(Problem(str(d), "empty class folder (no files)"))
    images, labels, splits, paths = [], [], [], []
    for split, cls, d, f in tqdm(files, desc=f"reading {root.name}", disable=not progress, unit="img"):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(Problem(str(f), "not an image file name, skipped"))
            continue
        try:
            images.append(load_gray(f, size))
        except (ValueError, OSError) as exc:
            problems.append(Problem(str(f), str(exc).removeprefix(f"{f}: ")))
            continue
        labels.append(classes.index(cls))
        splits.append(split)
        paths.append(str(f))
        per_dir[d] += 1
    empty = [d for d, k in per_dir.items() if k == 0]
    if not images:
        named = ", ".join(str(d) for d in empty[:10]) + (" ..." if len(empty) > 10 else "")
        first = f"; first problem: {problems[0]}" if problems else ""
        raise InputError(f"{root}: no readable images; every class folder is empty or unreadable ({named}){first}")
    for d in empty:
        no_files = any(p.where == str(d) for p in problems)
        _warn(f"{d}: class folder {'is empty' if no_files else 'has no readable image'}; "
              f"its class has no images{' in this split' if split_dirs else ''}")
        if not no_files:
            problems.append(Problem(str(d), "class folder has no readable image"))
    path_objs = [Path(p) for p in paths]
    groups = np.array([group_fn(p) for p in path_objs]) if group_fn else None
    return FaceDataset(
        images=np.stack(images),
        labels=np.array(labels),
        classes=classes,
        groups=groups,
        split=np.array(splits) if split_dirs else None,
        name=name or root.name,
        paths=np.array(paths),
        problems=problems,
    )
