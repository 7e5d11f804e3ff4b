"""A compact ResNet for small grayscale faces (ResNet-18 layout at reduced width, no stem pooling)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float
from ferkit.models.base import FerModel, check_dropout, check_sizes, pooled_head
from ferkit.models.registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class ResNet(FerModel):
    """``forward_features``: stem and residual stages (a feature map); ``forward_head``: global average
    pool, dropout and the final ``Linear`` (``head[3]``)."""

    classifier_index = 3

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (2, 2, 2, 2),
        dropout: float = 0.2,
    ):
        super().__init__()
        widths = check_sizes("resnet", "widths", widths)
        blocks = check_sizes("resnet", "blocks", blocks)
        if len(widths) != len(blocks):
            raise OptionError(
                f"resnet.widths and resnet.blocks must have one entry per stage, got {len(widths)} and {len(blocks)}"
            )
        dropout = check_dropout("resnet", dropout)
        self.num_classes = num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stages.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1))
                cin = w
        self.stages = nn.Sequential(*stages)
        self.head = pooled_head(cin, num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


@register_model("resnet", input_size=48, model_cls=ResNet)
def resnet(**cfg) -> ResNet:
    """Compact ResNet-18 layout at 32/64/128/256 channels (~2.8M parameters)."""
    return ResNet(**cfg)


class ResNet18(ResNet):
    """Full-width ResNet-18 (BasicBlock, 2-2-2-2 blocks, 64/128/256/512 channels times ``width``) with a
    3x3 stride-1 stem and no stem pooling, for 48 px faces; the head is :class:`ResNet`'s."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        width: float = 1.0,
        dropout: float = 0.0,
    ):
        width = check_float("resnet18", "width", width, lo=0.0, hi=4.0, lo_open=True)
        dropout = check_dropout("resnet18", dropout)
        widths = tuple(max(1, round(w * width)) for w in (64, 128, 256, 512))
        super().__init__(num_classes=num_classes, in_chans=in_chans, input_size=input_size,
                         widths=widths, blocks=(2, 2, 2, 2), dropout=dropout)


@register_model("resnet18", input_size=48, model_cls=ResNet18)
def resnet18(**cfg) -> ResNet18:
    """Full-width ResNet-18 (64-512 channels times width) with a stride-1 3x3 stem for 48 px faces."""
    return ResNet18(**cfg)
