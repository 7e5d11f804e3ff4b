"""mini-Xception (Arriaga et al. 2017), the ~60k-parameter model the ``fer`` package ships."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float, check_int
from ferkit.models.base import FerModel, check_dropout, check_sizes, pooled_head
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


class XceptionBlock(nn.Module):
    """``reps`` x [ReLU, separable 3x3 conv, BN] (the first ReLU left out when not ``start_with_relu``),
    a 3x3 max-pool when ``stride`` > 1, plus a 1x1 conv-BN shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1, start_with_relu: bool = True,
                 grow_first: bool = True):
        super().__init__()
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        )
        layers: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                a, b = (cin if i == 0 else cout), cout
            else:
                a, b = cin, (cin if i < reps - 1 else cout)
            # not in place: the block's input is also the shortcut's
            layers += [nn.ReLU(inplace=False), SeparableConv(a, b), nn.BatchNorm2d(b)]
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class Xception(FerModel):
    """Xception (Chollet 2017) scaled to 48 px faces: a stride-1 stem, so the entry flow (three stride-2
    blocks) ends at 6x6 and the exit flow at 3x3; ``middle_repeats`` middle-flow blocks; channel counts
    times ``width``.

    ``forward_features``: entry, middle and exit flows (a feature map); ``forward_head``: global average
    pool, dropout and the final ``Linear`` (``head[3]``)."""

    classifier_index = 3

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        middle_repeats: int = 8,
        width: float = 1.0,
        dropout: float = 0.2,
    ):
        super().__init__()
        middle_repeats = check_int("xception", "middle_repeats", middle_repeats, lo=0)
        width = check_float("xception", "width", width, lo=0.0, hi=4.0, lo_open=True)
        dropout = check_dropout("xception", dropout)
        if input_size < 1:
            raise OptionError(f"input_size {input_size} is too small for xception")
        self.num_classes = num_classes

        def c(n: int) -> int:
            return max(1, round(n * width))

        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, c(32), 3, padding=1, bias=False),
            nn.BatchNorm2d(c(32)),
            nn.ReLU(inplace=True),
            nn.Conv2d(c(32), c(64), 3, padding=1, bias=False),
            nn.BatchNorm2d(c(64)),
            nn.ReLU(inplace=True),
        )
        self.entry = nn.Sequential(
            XceptionBlock(c(64), c(128), 2, 2, start_with_relu=False),
            XceptionBlock(c(128), c(256), 2, 2),
            XceptionBlock(c(256), c(728), 2, 2),
        )
        self.middle = nn.Sequential(*(XceptionBlock(c(728), c(728), 3, 1) for _ in range(middle_repeats)))
        self.exit = nn.Sequential(
            XceptionBlock(c(728), c(1024), 2, 2, grow_first=False),
            SeparableConv(c(1024), c(1536)),
            nn.BatchNorm2d(c(1536)),
            nn.ReLU(inplace=True),
            SeparableConv(c(1536), c(2048)),
            nn.BatchNorm2d(c(2048)),
            nn.ReLU(inplace=True),
        )
        self.head = pooled_head(c(2048), num_classes, dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.exit(self.middle(self.entry(self.stem(x))))


@register_model("xception", input_size=48, model_cls=Xception)
def xception(**cfg) -> Xception:
    """Xception (entry, middle_repeats middle and exit flows, times width) with a stride-1 stem for 48 px."""
    return Xception(**cfg)
