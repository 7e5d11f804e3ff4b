"""The contract every registered model follows, as timm's models do.

* ``forward_features(x)``: the features before pooling and classifier (a feature map for ferkit's CNNs);
* ``forward_head(features)``: pooling, dropout and the final classifier, giving (N, num_classes) logits;
* ``forward(x) == forward_head(forward_features(x))``;
* ``get_classifier()``: the final layer; ``reset_classifier(num_classes)`` replaces it with a freshly
  initialised one for another class count (fine-tuning), updating ``num_classes`` and
  ``ferkit_cfg["num_classes"]``;
* ``num_classes``.

A model keeps its classifier as item ``classifier_index`` of its ``head`` ``nn.Sequential``, so that the
parameter names (``head.3.weight``...) of saved checkpoints stay as they are."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float, check_int


class FerModel(nn.Module):
    """Base of ferkit's registered models; subclasses define ``forward_features`` and a ``head``."""

    #: position of the final classifier layer in ``self.head``
    classifier_index: int = -1
    num_classes: int
    head: nn.Sequential

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Features (from :meth:`forward_features`) to logits: pooling, dropout and classifier."""
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head[self.classifier_index]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer by a freshly initialised one with ``num_classes`` outputs (same
        input width, device and dtype); every other weight is kept."""
        num_classes = check_int(f"{type(self).__name__}.reset_classifier", "num_classes", num_classes, lo=1)
        old = self.get_classifier()
        new = fresh_classifier(old, num_classes)
        ref = next(old.parameters(), None)
        if ref is not None:
            new = new.to(device=ref.device, dtype=ref.dtype)
        index = self.classifier_index % len(self.head)
        self.head[index] = new
        self.num_classes = num_classes
        cfg = getattr(self, "ferkit_cfg", None)
        if isinstance(cfg, dict):
            cfg["num_classes"] = num_classes


def pooled_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """The global-average-pool head most models share: pool, flatten, dropout and the final ``Linear``
    (``head[3]``, so ``classifier_index = 3``)."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))


def fresh_classifier(layer: nn.Module, num_classes: int) -> nn.Module:
    """A new layer like ``layer`` (a Linear or a Conv2d) with ``num_classes`` outputs."""
    if isinstance(layer, nn.Linear):
        return nn.Linear(layer.in_features, num_classes, bias=layer.bias is not None)
    if isinstance(layer, nn.Conv2d):
        return nn.Conv2d(
            layer.in_channels, num_classes, layer.kernel_size, layer.stride, layer.padding,
            dilation=layer.dilation, bias=layer.bias is not None,
        )
    raise TypeError(f"cannot reset a classifier of type {type(layer).__name__}")


# ----------------------------------------------------------------- option checks for model builders
def check_sizes(owner: str, name: str, value: Any, allow_empty: bool = False) -> tuple[int, ...]:
    """A list or tuple of positive integers (channel widths, block counts, layer sizes)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise OptionError(f"{owner}.{name} must be a list of positive integers, got {value!r}")
    if not value and not allow_empty:
        raise OptionError(f"{owner}.{name} must be a non-empty list of positive integers, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
            raise OptionError(f"{owner}.{name} must be a list of positive integers, got {value!r}")
    return tuple(int(v) for v in value)


def check_dropout(owner: str, value: Any) -> float:
    p = check_float(owner, "dropout", value, lo=0.0, hi=1.0)
    if p >= 1.0:
        raise OptionError(f"{owner}.dropout must be in [0, 1), got {value}")
    return p
