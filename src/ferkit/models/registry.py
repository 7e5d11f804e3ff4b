"""A timm-style model registry: ``create(name, num_classes=7, **cfg)`` and ``list_models()``."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_int

#: arguments every builder takes; ``create`` passes them, so they are not model options
BUILD_ARGS = ("num_classes", "in_chans", "input_size")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    description: str
    #: the model options ``create(name, **cfg)`` accepts (None: not known, unchecked)
    cfg_keys: tuple[str, ...] | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def _option_names(fn: Callable) -> tuple[str, ...] | None:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(
        p.name for p in params
        if p.name not in BUILD_ARGS and p.name != "self"
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def register_model(name: str, input_size: int = 48, description: str = "", model_cls: type | None = None):
    """Decorator adding a builder ``fn(num_classes, in_chans, input_size, **cfg) -> nn.Module``.

    The accepted options are the builder's keyword arguments, or those of ``model_cls.__init__`` when
    the builder passes ``**cfg`` on to a model class."""

    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        keys = _option_names(model_cls.__init__ if model_cls is not None else fn)
        _REGISTRY[name] = ModelEntry(name, fn, input_size, description or (fn.__doc__ or "").strip(), keys)
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_entry(name: str) -> ModelEntry:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise OptionError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _REGISTRY[name]


def check_model_cfg(name: str, cfg: dict, where: str = "model options") -> None:
    """Refuse options ``name``'s builder does not take, listing those it does."""
    keys = model_entry(name).cfg_keys
    if keys is None:
        return
    unknown = sorted(set(cfg) - set(keys))
    if unknown:
        raise OptionError(
            f"unknown {where} {', '.join(map(repr, unknown))} for model {name!r}; allowed: {', '.join(keys)}"
        )


def create(name: str, num_classes: int = 7, in_chans: int = 1, input_size: int | None = None, **cfg) -> nn.Module:
    """Build a registered model. Every model takes (N, in_chans, input_size, input_size) float input
    and returns (N, num_classes) logits; ``model.ferkit_cfg`` records how it was built.

    Every model follows the contract of :class:`ferkit.models.base.FerModel`: ``forward_features``,
    ``forward_head``, ``get_classifier``, ``reset_classifier`` and ``num_classes``.
    An unknown name or option raises :class:`~ferkit.core.errors.OptionError` listing what is allowed."""
    entry = model_entry(name)
    check_int(name, "num_classes", num_classes, lo=1)
    check_int(name, "in_chans", in_chans, lo=1)
    check_int(name, "input_size", input_size, lo=1, optional=True)
    check_model_cfg(name, cfg)
    size = input_size or entry.input_size
    model = entry.builder(num_classes=num_classes, in_chans=in_chans, input_size=size, **cfg)
    model.ferkit_cfg = {"name": name, "num_classes": num_classes, "in_chans": in_chans, "input_size": size, **cfg}
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int, in_chans: int = 1) -> int:
    """Multiply-accumulates of one forward pass on one face, counted by ``torch.utils.flop_counter``
    (FLOPs / 2), not by hand."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, in_chans, input_size, input_size))
    model.train(was_training)
    return counter.get_total_flops() // 2


def measure_faces_per_second(model: nn.Module, input_size: int, in_chans: int = 1, batch: int = 64,
                             seconds: float = 2.0) -> float:
    """Faces per second of the PyTorch model in eval mode, batches of ``batch``, for ``seconds``."""
    import time

    import torch

    model.eval()
    x = torch.randn(batch, in_chans, input_size, input_size)
    with torch.no_grad():
        model(x)  # warm-up
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            n += batch
    return n / (time.perf_counter() - start)
