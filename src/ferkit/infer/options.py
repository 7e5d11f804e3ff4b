"""The options of inference, checked field by field when they are made (a wrong value is refused at
construction with the field's name and what is allowed, never at the first call)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferkit.core.errors import OptionError
from ferkit.core.labels import SENTIMENT_MAPS, sentiment_map
from ferkit.core.options import check_bool, check_choice, check_float, check_int
from ferkit.core.preprocess import TTA_MODES
from ferkit.faces import DetectorOptions, detector_entry, list_detectors
from ferkit.infer.classifier import resolve_model

COLOR_ORDERS = ("bgr", "rgb")


def detector_settings(name: str) -> set[str]:
    """The backend-specific keyword settings a detector's factory takes."""
    import inspect
    import typing

    target = detector_entry(name).factory
    params = list(inspect.signature(target).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):  # a factory passing **cfg on: the class it builds
        target = typing.get_type_hints(target).get("return", target)
        params = list(inspect.signature(target).parameters.values())
    return {p.name for p in params if p.name not in ("options", "self")
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


@dataclass(frozen=True)
class RecognizerOptions:
    """Everything a Recognizer needs; every field has a default.

    ``model``: a bundled model name (``ferkit.infer.classifier.BUNDLED_MODELS``; None: "default"),
    or an exported ONNX model or a training checkpoint. ``detector``: a name from
    ``ferkit.faces.list_detectors()``, ``detector_cfg`` its own settings. ``score_threshold``,
    ``min_face_size``, ``max_faces``, ``upsample`` (0-2), ``max_side`` (larger images are searched
    on a downscaled copy): see ``DetectorOptions``. ``align``: level
    the eyes when the detector gives landmarks. ``crop_scale``/``crop_shift``: the face crop
    relative to the box (None: the detector's measured default). ``batch_size``: faces per
    classifier call. ``tta``: none, flip or ten_crop. ``threads``: ONNX Runtime threads of the
    classifier and of the BlazeFace detector (0: ONNX Runtime's default, one per physical core).
    ``sentiment_map``: a name or a mapping. ``color_order``: how 3- and 4-channel NumPy arrays are
    read (bgr or rgb)."""

    model: str | Path | None = None
    detector: str = "blazeface"
    detector_cfg: Mapping[str, Any] = field(default_factory=dict)
    score_threshold: float = 0.5
    min_face_size: int = 20
    max_faces: int | None = None
    upsample: int = 0
    max_side: int = 1920
    align: bool = True
    crop_scale: float | None = None
    crop_shift: tuple[float, float] | None = None
    batch_size: int = 64
    tta: str = "none"
    threads: int = 0
    sentiment_map: str | Mapping[str, str] = "default"
    color_order: str = "bgr"

    def __post_init__(self) -> None:
        o = "RecognizerOptions"
        object.__setattr__(self, "model_path", resolve_model(self.model))
        check_choice(o, "detector", self.detector, list_detectors())
        if not isinstance(self.detector_cfg, Mapping):
            raise OptionError(f"{o}.detector_cfg must be a mapping, got {self.detector_cfg!r}")
        accepted = detector_settings(self.detector)
        unknown = sorted(set(self.detector_cfg) - accepted)
        if unknown:
            raise OptionError(f"{o}.detector_cfg: {self.detector} takes no setting {', '.join(unknown)}; "
                              f"it takes: {', '.join(sorted(accepted)) or 'none'}")
        self.detector_options()  # DetectorOptions checks its own fields
        check_bool(o, "align", self.align)
        check_float(o, "crop_scale", self.crop_scale, 0.5, 3.0, optional=True)
        if self.crop_shift is not None:
            if not isinstance(self.crop_shift, (tuple, list)) or len(self.crop_shift) != 2:
                raise OptionError(f"{o}.crop_shift must be a pair (x, y) of numbers, got {self.crop_shift!r}")
            for v in self.crop_shift:
                check_float(o, "crop_shift", v, -1.0, 1.0)
        check_int(o, "batch_size", self.batch_size, 1, 4096)
        check_choice(o, "tta", self.tta, TTA_MODES)
        check_int(o, "threads", self.threads, 0, 256)
        if isinstance(self.sentiment_map, str):
            check_choice(o, "sentiment_map", self.sentiment_map, SENTIMENT_MAPS)
        else:
            try:
                sentiment_map(self.sentiment_map)
            except (KeyError, ValueError) as exc:
                raise OptionError(f"{o}.sentiment_map: {exc.args[0] if exc.args else exc}") from None
        check_choice(o, "color_order", self.color_order, COLOR_ORDERS)

    def detector_options(self):
        return DetectorOptions(self.score_threshold, self.min_face_size, self.max_faces, self.upsample,
                               max_side=self.max_side)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = str(self.model_path)
        d["detector_cfg"] = dict(self.detector_cfg)
        if not isinstance(self.sentiment_map, str):
            d["sentiment_map"] = dict(self.sentiment_map)
        return d


@dataclass(frozen=True)
class VideoOptions:
    """How a video or stream is processed.

    ``every``/``fps``: which frames of a source are analysed (every Nth frame, or about this many
    per second by timestamp); ``detect_every``: "auto" (the default) searches the whole frame at
    least every ``scan_every_s`` seconds and, in between, finds each tracked face again in a small
    window around where it is heading, searching the whole frame at once when one is not found
    there (new faces are found within ``scan_every_s``); an integer k runs the detector on the whole
    of every k-th analysed frame and keeps the tracked boxes in between; ``smoothing_half_life_s``: exponential smoothing of each
    track's probabilities in time (0: off; the raw values are kept in ``emotions_raw``);
    ``iou_threshold``, ``max_center_shift``, ``max_age_s``: tracking (see ``FaceTracker``)."""

    every: int = 1
    fps: float | None = None
    detect_every: int | str = "auto"
    scan_every_s: float = 0.5
    smoothing_half_life_s: float = 0.5
    iou_threshold: float = 0.3
    max_center_shift: float = 1.0
    max_age_s: float = 1.0

    def __post_init__(self) -> None:
        o = "VideoOptions"
        check_int(o, "every", self.every, 1)
        check_float(o, "fps", self.fps, 0.0, 1000.0, optional=True, lo_open=True)
        if self.fps is not None and self.every != 1:
            raise OptionError(f"{o}: give every (every Nth frame) or fps (frames per second), not both")
        if self.detect_every != "auto":
            if isinstance(self.detect_every, str):
                raise OptionError(f"{o}.detect_every must be 'auto' or a whole number from 1 to 1000, "
                                  f"got {self.detect_every!r}")
            check_int(o, "detect_every", self.detect_every, 1, 1000)
        check_float(o, "scan_every_s", self.scan_every_s, 0.0, 3600.0)
        check_float(o, "smoothing_half_life_s", self.smoothing_half_life_s, 0.0, 3600.0)
        check_float(o, "iou_threshold", self.iou_threshold, 0.0, 1.0)
        check_float(o, "max_center_shift", self.max_center_shift, 0.0, 10.0)
        check_float(o, "max_age_s", self.max_age_s, 0.0, 3600.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
