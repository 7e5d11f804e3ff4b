"""Reading image files, with clear errors and notes on how a file was read; turning image arrays
into uint8 and grayscale.

A file is decoded as it is displayed: the EXIF orientation is applied (OpenCV's decode flags, for
JPEG, PNG, WebP and TIFF), only the first frame of an animation or the first page of a multi-page
file is used, and the bytes some phones write after a JPEG's end-of-image marker are ignored. What
the decoder reports (libjpeg's "Corrupt JPEG data: ..." and the like) becomes a note of the image
instead of an unattributed line on stderr."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import cv2
import numpy as np

from ferkit.core.errors import InputError
from ferkit.core.paths import require_file
from ferkit.core.stderr import run_capturing_stderr

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})

#: OpenCV decode flags: bit depth and grey/colour as stored (an alpha channel is dropped) and the
#: EXIF orientation applied, so pixels (and later face boxes) are those of the displayed image
DECODE_FLAGS = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
#: a decoder message is cut to this many characters in a note
MAX_MESSAGE = 300
#: libjpeg messages that mean the compressed data is damaged (others are harmless remarks)
_JPEG_DAMAGE = ("corrupt jpeg data", "premature end", "bogus", "huffman", "invalid", "inconsistent")
#: the formats whose EXIF orientation OpenCV applies with DECODE_FLAGS
_ORIENTED_BY_OPENCV = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF"})
#: how notes name multi-frame files and their frames, by PIL format name
_MULTI_FRAME = {"GIF": ("animated GIF", "frames"), "TIFF": ("multi-page TIFF", "pages"),
                "PNG": ("animated PNG", "frames"), "WEBP": ("animated WebP", "frames")}


class ImageReadError(InputError):
    """An image file that exists but cannot be decoded."""


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file as displayed (see :func:`read_image_notes`); raise
    :class:`~ferkit.core.errors.MissingInputError` when it does not exist and
    :class:`ImageReadError` naming the path when it cannot be read."""
    return read_image_notes(path)[0]


def read_image_notes(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """The decoded image (uint8 or uint16, (H, W) or (H, W, 3) BGR, or float for float formats) and
    notes on how it was read: "EXIF orientation 6 applied", "animated GIF: first of 12 frames
    used", "multi-page TIFF: first of 3 pages used", "JPEG data damaged: decoded with errors
    (...)". A truncated JPEG (no end-of-image marker) and anything the decoders refuse raise
    :class:`ImageReadError` naming the file."""
    path = require_file(path, "an image", ImageReadError)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return decode_image(data, str(path))


def decode_image(data: bytes, name: str = "image") -> tuple[np.ndarray, list[str]]:
    """:func:`read_image_notes` for the bytes of an image file; ``name`` goes into error messages."""
    if not data:
        raise ImageReadError(f"{name}: empty file")
    notes: list[str] = []
    is_jpeg = data[:3] == b"\xff\xd8\xff"
    if is_jpeg:
        fmt, frames = "JPEG", 1
        end, exif = jpeg_layout(data)
        if end is None and not _has_end_after_scan(data):
            # OpenCV decodes a cut-off JPEG with a grey lower part (or not at all) and a warning
            raise ImageReadError(f"{name}: truncated JPEG (no end-of-image marker)")
        orientation = _orientation(exif)
    else:
        fmt, frames, orientation = _pil_metadata(data)
    try:
        image, messages = _decode_capturing_stderr(np.frombuffer(data, dtype=np.uint8), DECODE_FLAGS)
    except cv2.error as exc:
        raise ImageReadError(f"{name}: not a readable image ({_one_line(str(exc))})") from exc
    if image is None:
        image = _pil_decode(data, orientation)
        if image is not None and not is_jpeg:
            messages = ""  # OpenCV's complaints about a format it lacks (PIL has read it)
    elif fmt not in _ORIENTED_BY_OPENCV:
        orientation = None  # whatever the tag says, the pixels are as stored
    if image is None:
        why = f": {messages}" if messages else ""
        raise ImageReadError(f"{name}: not a readable image (corrupt, truncated or not an image format{why})")
    if orientation in range(2, 9):
        notes.append(f"EXIF orientation {orientation} applied")
    if frames > 1:
        notes.append(frames_note(fmt, frames))
    if messages:
        damaged = is_jpeg and any(key in messages.lower() for key in _JPEG_DAMAGE)
        if damaged:
            notes.append(f"JPEG data damaged: decoded with errors ({messages})")
        else:
            notes.append(f"decoder warning: {messages}")
    return image, notes


# --- JPEG structure -------------------------------------------------------------------------

#: in entropy-coded data a 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; any other
#: byte after it (fill 0xFF bytes aside) starts the next marker
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = frozenset({0x00, 0x01, *range(0xD0, 0xD8)})


def jpeg_layout(data: bytes) -> tuple[int | None, bytes | None]:
    """Walk a JPEG's segments: the offset just past the first image's end-of-image marker (None
    when the data ends before it, as in a truncated file), and the TIFF block of its EXIF APP1
    segment (None without one). Bytes after the end marker (phones append a second image or
    other data) are not looked at; segment contents (an EXIF thumbnail with its own end marker)
    are skipped by their lengths."""
    n, pos, exif = len(data), 2, None
    while pos < n:
        if data[pos] != 0xFF:  # not at a marker: damaged; go on from the next one, as libjpeg does
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return None, exif
            pos = found.start()
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return pos, exif
        if marker in _STANDALONE:
            continue
        if pos + 2 > n:
            break
        length = (data[pos] << 8) | data[pos + 1]
        if marker == 0xE1 and exif is None and data.startswith(b"Exif\x00\x00", pos + 2):
            exif = data[pos + 8 : pos + length]
        pos += max(length, 2)
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return None, exif


def _has_end_after_scan(data: bytes) -> bool:
    """An end-of-image marker somewhere after the first scan starts: the segment walk went astray
    on damaged data, but the file is not cut off (the decoder then reports the damage)."""
    sos = data.find(b"\xff\xda")
    return sos >= 0 and data.find(b"\xff\xd9", sos) >= 0


def _orientation(exif: bytes | None) -> int | None:
    if not exif:
        return None
    try:
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = Image.Exif()
            info.load(exif)
            value = info.get(0x0112)
    except Exception:  # unreadable EXIF: OpenCV then applies no orientation either
        return None
    return int(value) if isinstance(value, int) else None


# --- other formats: what PIL says about them --------------------------------------------------


def _pil_metadata(data: bytes) -> tuple[str | None, int, int | None]:
    """(format, number of frames or pages, EXIF orientation) as PIL reads them from the headers;
    (None, 1, None) when PIL cannot open the file (OpenCV may still decode it)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return None, 1, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning, "Corrupt EXIF data" and such
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format
                frames = int(getattr(im, "n_frames", 1) or 1)
                if fmt == "TIFF":
                    orientation = im.getexif().get(0x0112)
                else:  # only what the headers hold: PNG's getexif() would decode the whole image
                    exif = im.info.get("exif")
                    orientation = _orientation(exif) if isinstance(exif, bytes) else None
        except Exception:
            return None, 1, None
    return fmt, frames, orientation if isinstance(orientation, int) else None


#: PIL's transpose for each EXIF orientation (2-8) that turns the stored pixels upright
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def orient_pil(image, orientation: int | None):
    """A PIL image turned upright for an EXIF ``orientation`` (the image itself for 1 or None)."""
    if orientation not in _TRANSPOSE:
        return image
    from PIL import Image

    return image.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))


def frames_note(fmt: str | None, frames: int, index: int = 0) -> str:
    """The note for using frame ``index`` of a file of ``frames`` frames or pages."""
    what, unit = _MULTI_FRAME.get(fmt or "", (f"multi-frame {fmt or 'image'}", "frames"))
    which = "first" if index == 0 else f"number {index + 1}"
    return f"{what}: {which} of {frames} {unit} used"


def _pil_decode(data: bytes, orientation: int | None) -> np.ndarray | None:
    """The first frame decoded by PIL, oriented, for what OpenCV cannot decode (GIF before OpenCV
    4.11, animated WebP...); None when PIL cannot either."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.seek(0)
                im.load()
                return pil_to_array(orient_pil(im, orientation))
        except Exception:
            return None


def pil_to_array(image) -> np.ndarray:
    """A PIL image as an array in OpenCV's channel order: gray (H, W) of uint8 (modes L, 1), uint16
    (I;16), int32 (I) or float32 (F) as stored; colour as uint8 BGR (H, W, 3) or BGRA."""
    mode = image.mode
    if mode in ("L", "I", "F") or mode.startswith("I;16"):
        return np.asarray(image)
    if mode == "1":
        return np.asarray(image.convert("L"))
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    rgb = np.asarray(image if mode in ("RGB", "RGBA") and has_alpha == (mode == "RGBA")
                     else image.convert("RGBA" if has_alpha else "RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA if has_alpha else cv2.COLOR_RGB2BGR)


# --- decoder messages -------------------------------------------------------------------------


def _decode_capturing_stderr(buf: np.ndarray, flags: int) -> tuple[np.ndarray | None, str]:
    """``cv2.imdecode``, with what the C decoders print on the process's stderr (libjpeg's
    warnings, OpenCV's log lines) caught and returned instead, so it is reported with its file."""
    image, text = run_capturing_stderr(cv2.imdecode, buf, flags)
    return image, _one_line(text)


def _one_line(text: str) -> str:
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


# --- arrays -----------------------------------------------------------------------------------


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image array as uint8, by one rule that never clips silently:

    - uint8: as is;
    - bool: False 0, True 255;
    - uint16: 16-bit data, divided by 257 (65535 -> 255) and rounded;
    - floats: values all in [0, 1] are scaled by 255, else values all in [0, 255] are used as
      they are (both rounded); any other range is refused, as are NaN and infinity;
    - other integers (int8...int64, uint32, uint64): values all in [0, 255] are used as they are;
      else values all in [0, 65535] are taken as 16-bit data (as uint16); negative or larger
      values are refused.

    Refusals raise :class:`~ferkit.core.errors.InputError` naming the range found; other dtypes
    (complex, object, strings...) are refused too."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    if image.dtype == np.uint16:
        return _from_16bit(image)
    if np.issubdtype(image.dtype, np.floating):
        if image.size == 0:
            return image.astype(np.uint8)
        if not np.isfinite(image).all():
            raise InputError("float image contains NaN or infinity")
        lo, hi = float(image.min()), float(image.max())
        if lo >= 0.0 and hi <= 1.0:
            precise = image.astype(np.float32) if image.dtype == np.float16 else image
            return np.rint(precise * 255.0).astype(np.uint8)
        if lo >= 0.0 and hi <= 255.0:
            return np.rint(image).astype(np.uint8)
        raise InputError(
            f"float image values span [{lo:g}, {hi:g}]; floats must be all in [0, 1] or all in [0, 255]"
        )
    if np.issubdtype(image.dtype, np.integer):
        if image.size == 0:
            return image.astype(np.uint8)
        lo, hi = int(image.min()), int(image.max())
        if lo >= 0 and hi <= 255:
            return image.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return _from_16bit(image.astype(np.uint16))
        raise InputError(
            f"{image.dtype} image values span [{lo}, {hi}]; integer images must be in [0, 255] "
            "(8-bit) or [0, 65535] (16-bit)"
        )
    raise InputError(f"cannot use an image array of dtype {image.dtype}")


def _from_16bit(image: np.ndarray) -> np.ndarray:
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any gray, BGR or BGRA array of a dtype :func:`to_uint8` takes, as uint8 grayscale."""
    image = to_uint8(np.asarray(image))
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise InputError(f"cannot convert an array of shape {image.shape} to grayscale")


def shrink_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` shrunk to ``size`` (width, height) by area averaging. A large factor is taken in two
    steps, a whole-number one first (OpenCV's fast path: 1280x720 to 228x128 in a third of the time
    of one step); the few edge pixels a whole-number step cannot pair (under one step) are dropped."""
    height, width = image.shape[:2]
    k = int(min(width / max(size[0], 1), height / max(size[1], 1)))
    if k >= 2:
        w, h = width - width % k, height - height % k
        image = cv2.resize(image[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resize_gray(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a grayscale image to ``size`` x ``size`` (area interpolation when shrinking)."""
    if image.shape[:2] == (size, size):
        return image
    shrink = image.shape[0] > size or image.shape[1] > size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def load_gray(path: str | Path, size: int) -> np.ndarray:
    """Read ``path`` as a ``size`` x ``size`` uint8 grayscale image."""
    return resize_gray(to_gray(read_image(path)), size)
