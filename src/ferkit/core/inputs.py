"""Turning what users pass for an image into a uint8 BGR array, with notes on how it was read and a
clear error otherwise.

Accepted:

- a path (str or os.PathLike) to an image file, decoded as displayed: EXIF orientation applied,
  the first frame of an animation or page of a multi-page TIFF, a JPEG's trailing bytes ignored
  (see :mod:`ferkit.core.images`); a missing file raises
  :class:`~ferkit.core.errors.MissingInputError`, a file that is not a readable image
  :class:`~ferkit.core.images.ImageReadError` (an :class:`~ferkit.core.errors.InputError`);
- a NumPy array: grayscale (H, W) or (H, W, 1), colour (H, W, 3) or with alpha (H, W, 4) (alpha
  is dropped). Colour arrays are taken as BGR (OpenCV's order) unless ``color_order="rgb"``;
- a PIL image in any mode (its own RGB order; the EXIF orientation it carries is applied).

Numbers are turned into uint8 by one rule (:func:`ferkit.core.images.to_uint8`), never clipped:
uint8 as is; bool 0/255; uint16 divided by 257; floats all in [0, 1] scaled by 255, else all in
[0, 255] as they are, else refused; other integer types all in [0, 255] as they are, else all in
[0, 65535] taken as 16-bit (divided by 257), else (negative or larger) refused; NaN and infinity
refused. A refused array raises :class:`UnsupportedImageError` naming the range found."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.images import frames_note, orient_pil, pil_to_array, read_image_notes, to_uint8
from ferkit.core.options import check_choice

COLOR_ORDERS = ("bgr", "rgb")


class UnsupportedImageError(InputError, TypeError):
    """An input that is not an image ferkit can take (wrong type, shape, dtype or value range)."""


@dataclass
class LoadedImage:
    """An input as ferkit analyses it: ``bgr``, a contiguous uint8 (H, W, 3) BGR array, and
    ``notes``, short sentences on how it was read for the result record ("EXIF orientation 6
    applied", "animated GIF: first of 12 frames used", "JPEG data damaged: decoded with errors
    (...)"); empty for an image read as it is."""

    bgr: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.bgr.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgr.shape[1])


def _to_uint8(array: np.ndarray) -> np.ndarray:
    try:
        return to_uint8(array)
    except ValueError as exc:
        raise UnsupportedImageError(str(exc)) from exc


def array_to_bgr(array: np.ndarray, color_order: str = "bgr") -> np.ndarray:
    """A gray/BGR/RGB/BGRA/RGBA array of any accepted dtype as a contiguous uint8 BGR array."""
    check_choice("", "color_order", color_order, COLOR_ORDERS)
    array = np.asarray(array)
    if array.size == 0:
        raise UnsupportedImageError(f"empty image array of shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UnsupportedImageError(
            f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    array = _to_uint8(array)
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        code = cv2.COLOR_RGBA2BGR if color_order == "rgb" else cv2.COLOR_BGRA2BGR
        return cv2.cvtColor(array, code)
    if color_order == "rgb":
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(array)


def _load_pil(image) -> LoadedImage:
    notes = []
    frames = int(getattr(image, "n_frames", 1) or 1)
    if frames > 1:
        notes.append(frames_note(image.format, frames, image.tell()))
    orientation = image.getexif().get(0x0112)
    if orientation in range(2, 9):
        image = orient_pil(image, orientation)
        notes.append(f"EXIF orientation {orientation} applied")
    return LoadedImage(array_to_bgr(pil_to_array(image), "bgr"), notes)


def load_image(image, color_order: str = "bgr") -> LoadedImage:
    """Any accepted input (see the module's doc) as a :class:`LoadedImage`: uint8 BGR pixels and
    notes on how they were read. ``color_order`` ("bgr" or "rgb") is the channel order of colour
    NumPy arrays; files and PIL images know their own."""
    check_choice("", "color_order", color_order, COLOR_ORDERS)
    if isinstance(image, (str, os.PathLike)):
        array, notes = read_image_notes(image)
        return LoadedImage(array_to_bgr(array, "bgr"), notes)
    if isinstance(image, np.ndarray):
        return LoadedImage(array_to_bgr(image, color_order), [])
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _load_pil(image)
    raise UnsupportedImageError(
        f"cannot analyse a {type(image).__name__}: pass a file path, a NumPy image array or a PIL image"
    )


def load_bgr(image, color_order: str = "bgr") -> np.ndarray:
    """Any accepted input (see the module's doc) as a uint8 BGR array (:func:`load_image`'s
    pixels, without its notes)."""
    return load_image(image, color_order).bgr
