"""Face detector registry, in the style of the model registry: ``create_detector(name, options)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ferkit.faces.detection import Detection, DetectorOptions


class FaceDetector(Protocol):
    name: str
    options: DetectorOptions

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a uint8 BGR (H, W, 3) or grayscale (H, W) image."""
        ...


@dataclass(frozen=True)
class DetectorEntry:
    name: str
    factory: Callable[..., FaceDetector]
    landmarks: str | None
    requires: str | None
    description: str

    def available(self) -> bool:
        if self.requires is None:
            return True
        import importlib.util

        return all(importlib.util.find_spec(mod) is not None for mod in self.requires.split(","))


_DETECTORS: dict[str, DetectorEntry] = {}


def register_detector(name: str, landmarks: str | None = None, requires: str | None = None):
    """Decorator registering a detector factory ``f(options: DetectorOptions, **cfg)``;
    ``requires`` names the modules it imports (comma separated), for optional backends."""

    def wrap(factory):
        doc = (factory.__doc__ or "").strip().splitlines()
        _DETECTORS[name] = DetectorEntry(name, factory, landmarks, requires, doc[0] if doc else "")
        return factory

    return wrap


def list_detectors(available_only: bool = False) -> list[str]:
    return sorted(n for n, e in _DETECTORS.items() if e.available() or not available_only)


def detector_entry(name: str) -> DetectorEntry:
    try:
        return _DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; available: {', '.join(list_detectors())}") from None


def create_detector(name: str = "blazeface", options: DetectorOptions | None = None, **cfg) -> FaceDetector:
    """A detector by name with ``options`` (defaults when None) and backend-specific ``cfg``."""
    entry = detector_entry(name)
    if not entry.available():
        raise ImportError(
            f"face detector {name!r} needs the package(s) {entry.requires}; install them with `pip install ferkit[dlib]`"
        )
    return entry.factory(options or DetectorOptions(), **cfg)
