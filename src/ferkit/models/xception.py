"""mini-Xception (Arriaga et al. 2017), the ~60k-parameter model the ``fer`` package ships."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_int
from ferkit.models.base import FerModel, check_sizes
from ferkit.models.registry import register_model


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class XceptionModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))
        self.body = nn.Sequential(
            SeparableConv(cin, cout),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            SeparableConv(cout, cout),
            nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x):
        return self.body(x) + self.residual(x)


class MiniXception(FerModel):
    """``forward_features``: stem and separable residual modules (a feature map); ``forward_head``: the
    classifier, a 3x3 conv to ``num_classes`` channels (``head[0]``), then global average pooling."""

    classifier_index = 0

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        base: int = 8,
        widths: Sequence[int] = (16, 32, 64, 128),
    ):
        super().__init__()
        base = check_int("mini_xception", "base", base, lo=1)
        widths = check_sizes("mini_xception", "widths", widths)
        if input_size < 5:
            raise OptionError(f"input_size {input_size} is too small for mini_xception (needs >= 5)")
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, base, 3, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(inplace=True),
            nn.Conv2d(base, base, 3, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(inplace=True),
        )
        modules, cin = [], base
        for w in widths:
            modules.append(XceptionModule(cin, w))
            cin = w
        self.modules_ = nn.Sequential(*modules)
        self.head = nn.Sequential(nn.Conv2d(cin, num_classes, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.modules_(self.stem(x))


@register_model("mini_xception", input_size=48, model_cls=MiniXception)
def mini_xception(**cfg) -> MiniXception:
    """mini-Xception: two conv stem, four depthwise-separable residual modules, conv + global pool."""
    return MiniXception(**cfg)
