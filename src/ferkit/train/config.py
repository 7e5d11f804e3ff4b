"""Training configuration: a dataclass with a default for every field, read from TOML or YAML, with
``key=value`` overrides (dotted keys reach the ``augment`` section)."""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferkit.train.augment import AugmentConfig


@dataclass
class TrainConfig:
    data: str = ""
    #: dataset format (None: recognised from the path); see ferkit.data.load.FORMATS
    format: str | None = None
    out: str = "runs/train"
    model: str = "vgg_compact"
    model_cfg: dict[str, Any] = field(default_factory=dict)
    #: start from the weights of this checkpoint (same architecture); layers whose shapes differ
    #: (e.g. the classifier for another number of classes) keep their fresh initialisation
    init_from: str | None = None
    #: faces are resized to image_size; the model sees input_size crops (None: the model's default)
    image_size: int = 48
    input_size: int | None = None
    epochs: int = 60
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd (Nesterov) | adamw
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"  # cosine (with warm-up) | plateau | none
    warmup_epochs: float = 2.0
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    early_stopping: int = 0  # epochs without validation improvement before stopping; 0 = off
    label_smoothing: float = 0.1
    #: exponential moving average of the weights, updated every step (0: off; 0.999 averages over
    #: roughly the last 1000 steps); when on, validation, best.pt and the exported model use the average
    ema_decay: float = 0.0
    class_weights: str = "none"  # none | balanced | sqrt
    seed: int = 0
    #: bf16 autocast: "auto" turns it on only where the CPU has native bf16 (AVX512-BF16 or AMX);
    #: without it bf16 is emulated and many times slower than fp32
    bf16: bool | str = "auto"
    channels_last: bool = True
    threads: int = 0  # 0: PyTorch's default
    #: for datasets without an official split: grouped validation fraction
    val_fraction: float = 0.15
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        aug = d.pop("augment", {}) or {}
        aug_known = {f.name for f in dataclasses.fields(AugmentConfig)}
        bad = set(aug) - aug_known
        if bad:
            raise ValueError(f"unknown augment keys {sorted(bad)}; known: {sorted(aug_known)}")
        return cls(**d, augment=AugmentConfig(**aug))


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_bf16(value: bool | str) -> bool:
    if value == "auto":
        return cpu_has_native_bf16()
    if isinstance(value, bool):
        return value
    raise ValueError(f"bf16 must be true, false or 'auto', got {value!r}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        return tomllib.loads(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        return yaml.safe_load(text) or {}
    raise ValueError(f"{path}: config must be .toml, .yaml or .yml")


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings (``augment.rotate=15``, ``model_cfg.dropout=0.3``)."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        target = d
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = _parse_value(value.strip())
    return d


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    d = read_config_file(path) if path else {}
    return TrainConfig.from_dict(apply_overrides(d, overrides or []))
