"""MobileNetV2 (Sandler et al. 2018) for small grayscale faces: inverted residual blocks, stride-1 stem."""

from __future__ import annotations

import torch
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float
from ferkit.models.base import FerModel, check_dropout, pooled_head
from ferkit.models.registry import register_model

#: (expansion t, channels c, repeats n, first stride s) of MobileNetV2's bottleneck stages
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(v: float, divisor: int = 8) -> int:
    """``v`` rounded to a multiple of ``divisor``, never below ``divisor`` nor 10% below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    ]


class InvertedResidual(nn.Module):
    """1x1 expansion (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear projection; a residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += conv_bn_relu6(cin, hidden, kernel=1)
        layers += conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden)
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.body(x)
        return x + out if self.use_residual else out


class MobileNetV2(FerModel):
    """MobileNetV2 with a stride-1 stem, so a 48 px input ends at 3x3 (four stride-2 stages).

    ``forward_features``: stem, inverted residual blocks and the final 1x1 conv (a feature map);
    ``forward_head``: global average pool, dropout and the final ``Linear`` (``head[3]``)."""

    classifier_index = 3

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        width_mult: float = 1.0,
        dropout: float = 0.2,
    ):
        super().__init__()
        width_mult = check_float("mobilenet_v2", "width_mult", width_mult, lo=0.0, hi=4.0, lo_open=True)
        dropout = check_dropout("mobilenet_v2", dropout)
        if input_size < 1:
            raise OptionError(f"input_size {input_size} is too small for mobilenet_v2")
        self.num_classes = num_classes
        stem = make_divisible(32 * width_mult)
        self.num_features = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = conv_bn_relu6(in_chans, stem, stride=1)
        cin = stem
        for t, c, n, s in MOBILENET_V2_STAGES:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers += conv_bn_relu6(cin, self.num_features, kernel=1)
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.num_features, num_classes, dropout)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_model("mobilenet_v2", input_size=48, model_cls=MobileNetV2)
def mobilenet_v2(**cfg) -> MobileNetV2:
    """MobileNetV2 (inverted residuals, ReLU6, linear bottlenecks, width_mult) with a stride-1 stem for 48 px."""
    return MobileNetV2(**cfg)
