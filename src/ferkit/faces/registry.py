"""Face detector registry, in the style of the model registry: ``create_detector(name, options)``.

A detector is one file: a backend class and a factory registered with what the rest of ferkit
needs to know about it (its landmark scheme, the modules it needs, the crop framing its boxes
call for)::

    @register_detector("blazeface", landmarks="blazeface6", crop_scale=1.19, crop_shift=(0.0, -0.10))
    def blazeface(options: DetectorOptions, threads: int = 1, spinning: bool = True, **cfg) -> BlazeFaceDetector: ...

A detector whose factory (or the class a ``**cfg`` factory builds) takes ``threads`` and ``spinning`` runs on
threads it shares with the classifier: a Recognizer passes its ``threads`` (0: the runtime's default, one per
physical core) and ``spinning=False`` (idle threads sleep between calls) unless ``detector_cfg`` sets them.

A backend's ``detect(image, options=None)`` finds faces with ``options`` (its own when None).
``create_detector`` puts every backend behind the same front (:class:`Detector`), which searches
an image larger than ``DetectorOptions.max_side`` on a shrunk copy and maps the faces back."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ferkit.core.errors import OptionError
from ferkit.core.images import shrink_area
from ferkit.core.options import check_float, check_str
from ferkit.faces.detection import Detection, DetectorOptions, finalize, iou_matrix


class FaceDetector(Protocol):
    name: str
    options: DetectorOptions

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a uint8 BGR (H, W, 3) or grayscale (H, W) image."""
        ...


class DetectorBackend(Protocol):
    """What a registered factory returns."""

    name: str
    options: DetectorOptions

    def detect(self, image: np.ndarray, options: DetectorOptions | None = None) -> list[Detection]:
        """Faces in a uint8 BGR (H, W, 3) or grayscale (H, W) image, found and filtered with
        ``options`` (``self.options`` when None), in that image's pixels."""
        ...


@dataclass(frozen=True)
class DetectorEntry:
    """A registered detector. ``crop_scale`` (crop side / box side) and ``crop_shift`` (the crop
    centre's shift from the box centre, in box sides) frame its boxes as FER2013 frames a face,
    measured with ``benchmarks/calibrate_crop.py``; callers use them unless told otherwise."""

    name: str
    factory: Callable[..., DetectorBackend]
    landmarks: str | None
    requires: str | None
    description: str
    crop_scale: float = 1.0
    crop_shift: tuple[float, float] = (0.0, 0.0)

    def available(self) -> bool:
        if self.requires is None:
            return True
        import importlib.util

        return all(importlib.util.find_spec(mod) is not None for mod in self.requires.split(","))


_DETECTORS: dict[str, DetectorEntry] = {}


def register_detector(name: str, landmarks: str | None = None, requires: str | None = None,
                      crop_scale: float = 1.0, crop_shift: tuple[float, float] = (0.0, 0.0)):
    """Decorator registering a detector factory ``f(options: DetectorOptions, **cfg)``;
    ``landmarks`` names its landmark scheme (see ``LANDMARK_SCHEMES``), ``requires`` the modules
    it imports (comma separated), for optional backends; ``crop_scale`` and ``crop_shift``: the
    face crop its boxes call for (see :class:`DetectorEntry`)."""
    owner = f"register_detector({name!r})"
    check_str(owner, "name", name)
    check_str(owner, "landmarks", landmarks, optional=True)
    check_str(owner, "requires", requires, optional=True)
    scale = check_float(owner, "crop_scale", crop_scale, lo=0.0, lo_open=True)
    if not isinstance(crop_shift, (tuple, list)) or len(crop_shift) != 2:
        raise OptionError(f"{owner}.crop_shift must be a pair (x, y), got {crop_shift!r}")
    shift = (check_float(owner, "crop_shift[0]", crop_shift[0]), check_float(owner, "crop_shift[1]", crop_shift[1]))

    def wrap(factory):
        doc = (factory.__doc__ or "").strip().splitlines()
        _DETECTORS[name] = DetectorEntry(name, factory, landmarks, requires, doc[0] if doc else "", scale, shift)
        return factory

    return wrap


def list_detectors(available_only: bool = False) -> list[str]:
    return sorted(n for n, e in _DETECTORS.items() if e.available() or not available_only)


def detector_entry(name: str) -> DetectorEntry:
    """The registered detector ``name``; :class:`~ferkit.core.errors.OptionError` listing the
    known ones when there is none."""
    try:
        return _DETECTORS[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown face detector {name!r}; known: {', '.join(list_detectors())}") from None


def face_window(box, shape: tuple[int, ...], context: float = 2.0) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) square of ``context`` times the longer side of the (x, y, w, h) ``box``
    around its centre, moved inside an image of ``shape`` rather than cut by its edge (a square is
    what detectors search fastest); cut only when the image is smaller than the square."""
    height, width = shape[:2]
    x, y, w, h = (float(v) for v in box)
    side = math.ceil(max(w, h) * context)
    x0 = min(max(0, math.floor(x + w / 2 - side / 2)), max(0, width - side))
    y0 = min(max(0, math.floor(y + h / 2 - side / 2)), max(0, height - side))
    return x0, y0, min(width, x0 + side), min(height, y0 + side)


def window_still_fits(window: tuple[int, int, int, int], box, shape: tuple[int, ...], context: float = 2.0) -> bool:
    """Whether ``window`` can still be searched for a face now at ``box``: the box keeps a fifth of
    its side clear of every window edge inside the image, and its size still suits the window
    (within a quarter of ``context`` times smaller or larger). Keeping a window while it fits makes
    a still face give the very same box frame after frame."""
    height, width = shape[:2]
    x0, y0, x1, y1 = window
    x, y, w, h = (float(v) for v in box)
    side, margin = max(w, h), 0.2 * max(w, h)
    if not 0.8 <= side * context / max(x1 - x0, y1 - y0, 1) <= 1.25:
        return False
    return ((x - x0 >= margin or x0 == 0) and (y - y0 >= margin or y0 == 0)
            and (x1 - x - w >= margin or x1 == width) and (y1 - y - h >= margin or y1 == height))


class Detector:
    """What :func:`create_detector` returns: a backend behind the size limit of its options.

    An image whose longer side exceeds ``options.max_side`` is shrunk to that side (area
    interpolation) for the backend, which searches it with ``min_face_size`` scaled down alike;
    the boxes and landmarks found are mapped back to the image's own pixels and filtered with the
    options as given. Only the shrunk copy is made, so memory stays bounded however large the
    image."""

    def __init__(self, backend: DetectorBackend, options: DetectorOptions, entry: DetectorEntry):
        self.backend = backend
        self.options = options
        self.entry = entry
        self.name = entry.name

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a uint8 BGR (H, W, 3) or grayscale (H, W) image, in its pixels, left to right."""
        image = np.asarray(image)
        height, width = image.shape[:2]
        longest = max(height, width)
        if longest <= self.options.max_side:
            return self.backend.detect(image, self.options)
        k = self.options.max_side / longest
        size = (max(1, round(width * k)), max(1, round(height * k)))
        small = shrink_area(image, size)
        fx, fy = width / size[0], height / size[1]
        inner = dataclasses.replace(
            self.options, min_face_size=max(1, int(self.options.min_face_size / max(fx, fy))), max_faces=None
        )
        found = self.backend.detect(small, inner)
        return finalize([d.scaled(fx, fy) for d in found], self.options, image.shape)

    def detect_near(self, image: np.ndarray, boxes, context: float = 2.0,
                    windows: list[tuple[int, int, int, int] | None] | None = None) -> list[Detection | None]:
        """For each (x, y, w, h) box, the face found again in a small window around it (by default
        :func:`face_window`; or the window given for it, as (x0, y0, x1, y1)): the detection
        overlapping the box most, or None when there is none, or when the face found runs into the
        window's edge inside the image (it may be cut; search the whole image instead). Far cheaper
        than searching a whole large frame: videos re-find their tracked faces this way between
        whole-frame searches. A backend with ``detect_many`` searches every window in one call."""
        image = np.asarray(image)
        height, width = image.shape[:2]
        windows = [windows[k] if windows is not None and windows[k] is not None else face_window(box, image.shape, context)
                   for k, box in enumerate(boxes)]
        crops = [image[y0:y1, x0:x1] for x0, y0, x1, y1 in windows]
        searched = [k for k, c in enumerate(crops) if min(c.shape[:2]) >= 8]
        if hasattr(self.backend, "detect_many") and all(max(crops[k].shape[:2]) <= self.options.max_side
                                                         for k in searched):
            results = dict(zip(searched, self.backend.detect_many([crops[k] for k in searched], self.options)))
        else:
            results = {k: self.detect(crops[k]) for k in searched}
        found: list[Detection | None] = []
        for k, box in enumerate(boxes):
            x0, y0, x1, y1 = windows[k]
            if k not in results:
                found.append(None)
                continue
            best, best_iou = None, 0.0
            for det in results[k]:
                bx, by, bw, bh = det.box
                cut = ((bx <= 1 and x0 > 0) or (by <= 1 and y0 > 0) or (bx + bw >= x1 - x0 - 1 and x1 < width)
                       or (by + bh >= y1 - y0 - 1 and y1 < height))
                moved = det.shifted(x0, y0)
                overlap = float(iou_matrix(np.array(box, dtype=np.float64), np.array(moved.box))[0, 0])
                if overlap > best_iou:
                    best, best_iou = (None if cut else moved), overlap
            found.append(best)
        return found

    def __getattr__(self, name: str) -> Any:
        # the backend's own attributes (a session, a cascade...) stay reachable
        if name == "backend":
            raise AttributeError(name)
        return getattr(self.backend, name)

    def __repr__(self) -> str:
        return f"Detector({self.name!r}, {self.options!r})"


def create_detector(name: str = "blazeface", options: DetectorOptions | None = None, **cfg) -> Detector:
    """A detector by name with ``options`` (defaults when None) and backend-specific ``cfg``.
    An unknown name raises :class:`~ferkit.core.errors.OptionError` listing the known ones; a
    backend whose packages are missing, ImportError saying what to install."""
    entry = detector_entry(name)
    if options is None:
        options = DetectorOptions()
    elif not isinstance(options, DetectorOptions):
        raise OptionError(f"options must be a DetectorOptions, got {type(options).__name__}")
    if not entry.available():
        raise ImportError(
            f"face detector {name!r} needs the package(s) {entry.requires}; install them with `pip install ferkit[dlib]`"
        )
    return Detector(entry.factory(options, **cfg), options, entry)
