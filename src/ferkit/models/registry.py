"""A timm-style model registry: ``create(name, num_classes=7, **cfg)`` and ``list_models()``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, input_size: int = 48, description: str = ""):
    """Decorator adding a builder ``fn(num_classes, in_chans, input_size, **cfg) -> nn.Module``."""

    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, fn, input_size, description or (fn.__doc__ or "").strip())
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


def create(name: str, num_classes: int = 7, in_chans: int = 1, input_size: int | None = None, **cfg) -> nn.Module:
    """Build a registered model. Every model takes (N, in_chans, input_size, input_size) float input
    and returns (N, num_classes) logits; ``model.ferkit_cfg`` records how it was built."""
    entry = model_entry(name)
    size = input_size or entry.input_size
    model = entry.builder(num_classes=num_classes, in_chans=in_chans, input_size=size, **cfg)
    model.ferkit_cfg = {"name": name, "num_classes": num_classes, "in_chans": in_chans, "input_size": size, **cfg}
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
