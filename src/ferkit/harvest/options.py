"""What a harvest keeps and how it lays the dataset out: one frozen options object, checked when made.

A harvest's options are stored in its ``harvest.json``; adding videos to an existing harvest needs the same
options (mixing two sets of rules in one dataset is refused)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferkit.core.errors import OptionError
from ferkit.core.options import check_choice, check_float, check_int
from ferkit.core.preprocess import TTA_MODES
from ferkit.faces import list_detectors

SPLIT_MODES = ("video", "none")


@dataclass(frozen=True)
class HarvestOptions:
    """``fps``: frames sampled per second of video. Detection: ``detector``, ``min_score`` (detector
    score), ``min_face`` (smaller box side, pixels). Labels: ``model`` (a bundled name, ONNX file or
    ensemble, or a checkpoint), ``tta`` (none or flip), ``min_prob`` (top probability), ``min_margin``
    (top minus second), ``stable`` (0: off; k: the label must be the same in the k samples before and
    after in the face's track). Duplicates: ``dedupe_bits`` (pHash bits within which two faces are
    near-identical, mirrored copies included; -1 keeps every face). Output: ``size`` (side of the aligned
    grayscale crops), ``original_size`` (0: none; else also save the larger colour crop, twice the face box,
    at this side in ``originals/``), ``split`` (``video``: train/val/test grouped by video, stratified as
    far as the videos allow; ``none``: one folder), ``val_fraction``/``test_fraction``, ``seed``."""

    fps: float = 2.0
    detector: str = "blazeface"
    min_score: float = 0.5
    min_face: int = 40
    model: str | None = None
    tta: str = "none"
    min_prob: float = 0.6
    min_margin: float = 0.2
    stable: int = 0
    dedupe_bits: int = 6
    size: int = 48
    original_size: int = 0
    split: str = "video"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        o = "harvest"
        check_float(o, "fps", self.fps, lo=0.0, lo_open=True, hi=240.0)
        check_choice(o, "detector", self.detector, list_detectors())
        check_float(o, "min_score", self.min_score, lo=0.0, hi=1.0)
        check_int(o, "min_face", self.min_face, lo=1, hi=4096)
        if self.model is not None and not isinstance(self.model, (str, Path)):
            raise OptionError(f"{o}.model must be a bundled model name or a model file, got {self.model!r}")
        check_choice(o, "tta", self.tta, tuple(t for t in TTA_MODES if t != "ten_crop"))
        check_float(o, "min_prob", self.min_prob, lo=0.0, hi=1.0)
        check_float(o, "min_margin", self.min_margin, lo=0.0, hi=1.0)
        check_int(o, "stable", self.stable, lo=0, hi=50)
        check_int(o, "dedupe_bits", self.dedupe_bits, lo=-1, hi=32)
        check_int(o, "size", self.size, lo=8, hi=1024)
        check_int(o, "original_size", self.original_size, lo=0, hi=2048)
        check_choice(o, "split", self.split, SPLIT_MODES)
        check_float(o, "val_fraction", self.val_fraction, lo=0.0, hi=1.0)
        check_float(o, "test_fraction", self.test_fraction, lo=0.0, hi=1.0)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise OptionError(f"{o}: val_fraction + test_fraction must leave some training videos, got "
                              f"{self.val_fraction} + {self.test_fraction}")
        check_int(o, "seed", self.seed, lo=0)
        if self.model is not None:
            object.__setattr__(self, "model", str(self.model))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
