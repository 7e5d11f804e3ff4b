"""Folders of class folders: ``root/<class>/*.png`` or ``root/<split>/<class>/*.png``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferkit.data.dataset import FaceDataset, Problem
from ferkit.core.images import IMAGE_SUFFIXES, load_gray
from ferkit.core.labels import ALIASES, CANONICAL, canonical_name

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


def ckplus_group(path: Path) -> str:
    """Subject id parsed from a CK+ style file name (the whole stem when it does not match)."""
    match = CKPLUS_NAME.search(path.name)
    return match.group(1) if match else path.stem


def _class_dirs(root: Path, problems: list[Problem]) -> list[tuple[str, Path]]:
    found = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name.lower() not in ALIASES:
            problems.append(Problem(str(d), "unknown class folder, skipped"))
            continue
        found.append((canonical_name(d.name), d))
    return found


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
    unknown class folders are skipped and listed in ``problems``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    problems: list[Problem] = []
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    split_dirs = [(SPLIT_DIRS[p.name.lower()], p) for p in subdirs if p.name.lower() in SPLIT_DIRS]
    if split_dirs:
        for p in subdirs:
            if p.name.lower() not in SPLIT_DIRS:
                problems.append(Problem(str(p), "neither a split nor inside one, skipped"))
        layout = [(split, cls, d) for split, sd in sorted(split_dirs) for cls, d in _class_dirs(sd, problems)]
    else:
        layout = [("", cls, d) for cls, d in _class_dirs(root, problems)]
    if not layout:
        raise ValueError(f"{root}: no class folders found (expected e.g. {root}/happy/*.png)")

    found = {cls for _, cls, _ in layout}
    if classes is None:
        classes = tuple(c for c in CANONICAL if c in found)
    else:
        classes = tuple(canonical_name(c) for c in classes)
        missing = found - set(classes)
        if missing:
            raise ValueError(f"{root}: class folders {sorted(missing)} are not in classes {classes}")

    files = [
        (split, cls, f)
        for split, cls, d in layout
        for f in sorted(d.rglob("*"))
        if f.is_file()
    ]
    images, labels, splits, paths = [], [], [], []
    for split, cls, f in tqdm(files, desc=f"reading {root.name}", disable=not progress, unit="img"):
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
    if not images:
        raise ValueError(f"{root}: no readable images ({len(problems)} problems, first: {problems[:1]})")
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
