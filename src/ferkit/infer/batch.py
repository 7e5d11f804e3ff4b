"""Analysing many image files: expanding paths, folders and globs, one record per image with a
clear ``error`` instead of an exception, and annotated copies that never overwrite anything."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from ferkit.core.errors import OptionError
from ferkit.core.images import IMAGE_SUFFIXES
from ferkit.core.video_file import VIDEO_SUFFIXES
from ferkit.infer.annotate import draw_faces
from ferkit.infer.recognizer import Recognizer
from ferkit.infer.results import ImageResult

GLOB_CHARS = set("*?[")
WRITABLE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class InputItem:
    """A file to analyse; ``relative`` names it under the annotation folder; ``error`` is set for
    arguments that matched nothing."""

    path: Path
    relative: Path
    error: str | None = None


def _folder_files(folder: Path, suffixes: frozenset[str]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def expand_inputs(args: Iterable[str | Path], video: bool = False) -> list[InputItem]:
    """Files as given, folders searched recursively for image files (and video files with
    ``video``), globs expanded (``**`` works); a missing path or a glob matching nothing becomes
    an item with an ``error``."""
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES if video else IMAGE_SUFFIXES
    items: list[InputItem] = []
    seen: set[Path] = set()

    def add(path: Path, relative: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            items.append(InputItem(path, relative))

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = _folder_files(path, suffixes)
            if not files:
                kinds = "image or video" if video else "image"
                items.append(InputItem(path, Path(path.name), f"{arg}: a folder with no {kinds} files in it"))
            for p in files:
                add(p, Path(path.name) / p.relative_to(path))
        elif path.exists():
            add(path, Path(path.name))
        elif GLOB_CHARS & set(str(arg)):
            matches = sorted(Path(m) for m in glob.glob(str(arg), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                items.append(InputItem(path, Path(path.name), f"{arg}: no file matches this pattern"))
            for m in files:
                add(m, Path(m.name))
        else:
            items.append(InputItem(path, Path(path.name), f"{arg}: no such file or directory"))
    return items


def check_outside(folder: str | Path, input_folders: Iterable[str | Path]) -> None:
    """Refuse an output folder inside an input folder: its files would be read back as inputs."""
    target = Path(folder).resolve()
    for given in input_folders:
        top = Path(given).resolve()
        if target == top or top in target.parents:
            raise OptionError(f"{folder}: is inside the input folder {given}; annotated copies there "
                              "would be read back as inputs next time: choose a folder outside it")


class Annotator:
    """Writes annotated copies under ``folder``, mirroring the inputs' relative names; refuses to
    write over an input, and keeps an existing file unless ``overwrite``."""

    def __init__(self, folder: str | Path, inputs: Iterable[Path] = (), overwrite: bool = False,
                 input_folders: Iterable[str | Path] = ()):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise OptionError(f"{self.folder}: --annotate needs a folder, and this is a file")
        check_outside(self.folder, input_folders)
        self.overwrite = overwrite
        self.protected = {Path(p).resolve() for p in inputs}
        self.written: set[Path] = set()

    def target(self, relative: Path) -> Path:
        rel = relative if relative.suffix.lower() in WRITABLE_SUFFIXES else relative.with_suffix(".png")
        out = self.folder / rel
        n = 2
        while out.resolve() in self.written:
            out = self.folder / rel.with_name(f"{rel.stem}_{n}{rel.suffix}")
            n += 1
        return out

    def write(self, relative: Path, image) -> tuple[Path, str | None]:
        """Write the image; returns its path and a note when it was not written."""
        out = self.target(relative)
        resolved = out.resolve()
        if resolved in self.protected:
            return out, f"{out}: not written, it is one of the inputs"
        if out.exists() and not self.overwrite:
            return out, f"{out}: exists, kept (use --overwrite to replace it)"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), image):
            return out, f"{out}: could not be written"
        self.written.add(resolved)
        return out, None


def analyze_items(recognizer: Recognizer, items: Iterable[InputItem],
                  annotator: Annotator | None = None) -> Iterator[tuple[ImageResult, str | None]]:
    """One result per input and a note about its annotated copy, if any. An input that cannot be
    read never stops the batch: its result has ``status`` "error" and the reason."""
    for item in items:
        if item.error:
            yield ImageResult.failed(item.path, item.error, recognizer.classes), None
            continue
        result, bgr = recognizer.analyze_or_record(item.path)
        note = None
        if annotator is not None and bgr is not None:
            out, note = annotator.write(item.relative, draw_faces(bgr, result.faces))
            if note is None:
                result.annotated = str(out)
        yield result, note
