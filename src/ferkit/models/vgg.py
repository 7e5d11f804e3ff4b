"""VGG-style networks: stages of [3x3 conv, BN, ReLU] x 2 then max-pool."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_choice, check_float
from ferkit.models.base import FerModel, check_dropout, check_sizes, pooled_head
from ferkit.models.registry import register_model


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class VGG(FerModel):
    """``widths`` stages, each two conv-BN-ReLU and a 2x2 max-pool; ``head='fc'`` flattens into
    fully connected layers ``fc_dims`` (fixed input size), ``head='gap'`` global-average-pools
    (any input size).

    ``forward_features`` gives the last stage's feature map; ``forward_head`` the flatten/pool, dropout,
    fully connected layers and the final ``Linear`` (``head[-1]``)."""

    classifier_index = -1

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        widths: Sequence[int] = (64, 128, 256, 512),
        head: str = "fc",
        fc_dims: Sequence[int] = (1024, 1024),
        dropout: float = 0.3,
    ):
        super().__init__()
        widths = check_sizes("vgg", "widths", widths)
        head = check_choice("vgg", "head", head, ("fc", "gap"))
        fc_dims = check_sizes("vgg", "fc_dims", fc_dims, allow_empty=True)
        dropout = check_dropout("vgg", dropout)
        side = input_size // 2 ** len(widths)
        if side < 1:
            raise OptionError(
                f"input_size {input_size} is too small for {len(widths)} VGG stages (needs >= {2 ** len(widths)})"
            )
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        cin = in_chans
        for w in widths:
            layers += conv_bn_relu(cin, w) + conv_bn_relu(w, w) + [nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        if head == "fc":
            dims = [cin * side * side, *fc_dims]
            fc: list[nn.Module] = [nn.Flatten()]
            for a, b in pairwise(dims):
                fc += [nn.Dropout(dropout), nn.Linear(a, b), nn.ReLU(inplace=True)]
            fc += [nn.Dropout(dropout), nn.Linear(dims[-1], num_classes)]
            self.head = nn.Sequential(*fc)
        else:
            self.head = pooled_head(cin, num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_model("vgg", input_size=48, model_cls=VGG)
def vgg(**cfg) -> VGG:
    """The 4-stage VGG of the 73.28% FER2013 recipe: 64/128/256/512 channels, FC head."""
    return VGG(**cfg)


@register_model("vgg_compact", input_size=40, model_cls=VGG)
def vgg_compact(**cfg) -> VGG:
    """VGG at 32/64/128/256 channels with a global-pool head (~1.2M parameters); fast on a CPU."""
    cfg.setdefault("widths", (32, 64, 128, 256))
    cfg.setdefault("head", "gap")
    return VGG(**cfg)


#: VGG-19's conv counts per stage and its widths at ``width=1``
VGG19_CONVS = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)


def scaled(width: float, base: int) -> int:
    """``base`` channels times a ``width`` multiplier, at least one."""
    return max(1, round(base * width))


class VGG19(FerModel):
    """The VGG-19 layout (2-2-4-4-4 conv-BN-ReLU per stage) for small faces: a 2x2 max-pool after each
    stage but the last, so a 48 px input ends at 3x3, then a global-average-pool head.

    ``forward_features`` gives the last stage's feature map; ``forward_head`` the global average pool,
    dropout and the final ``Linear`` (``head[3]``)."""

    classifier_index = 3

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        width: float = 1.0,
        dropout: float = 0.5,
    ):
        super().__init__()
        width = check_float("vgg19", "width", width, lo=0.0, hi=4.0, lo_open=True)
        dropout = check_dropout("vgg19", dropout)
        pools = len(VGG19_CONVS) - 1
        if input_size < 2**pools:
            raise OptionError(f"input_size {input_size} is too small for vgg19 (needs >= {2**pools})")
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        cin = in_chans
        for i, (n, base) in enumerate(zip(VGG19_CONVS, VGG19_WIDTHS)):
            w = scaled(width, base)
            for _ in range(n):
                layers += conv_bn_relu(cin, w)
                cin = w
            if i < pools:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(cin, num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_model("vgg19", input_size=48, model_cls=VGG19)
def vgg19(**cfg) -> VGG19:
    """VGG-19 (16 conv-BN-ReLU, 64-512 channels times width) ending at 3x3 on 48 px, global-pool head."""
    return VGG19(**cfg)
