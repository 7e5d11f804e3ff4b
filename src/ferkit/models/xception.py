"""mini-Xception (Arriaga et al. 2017), the ~60k-parameter model the ``fer`` package ships."""

from __future__ import annotations

from torch import nn

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


class MiniXception(nn.Module):
    def __init__(self, num_classes: int = 7, in_chans: int = 1, input_size: int = 48, base: int = 8, widths=(16, 32, 64, 128)):
        super().__init__()
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

    def forward(self, x):
        return self.head(self.modules_(self.stem(x)))


@register_model("mini_xception", input_size=48)
def mini_xception(**cfg) -> MiniXception:
    """mini-Xception: two conv stem, four depthwise-separable residual modules, conv + global pool."""
    return MiniXception(**cfg)
