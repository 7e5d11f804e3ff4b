"""The region ("prior attention") model: one branch on the eye-and-eyebrow strip, one on the mouth strip.

The model takes the aligned face and, as a second input, where the two regions are in it: ``regions``
(N, 2, 4) boxes ``(x0, y0, x1, y1)`` in fractions of the face image (row 0 the eyes and brows, row 1 the
mouth), found from facial landmarks (:mod:`ferkit.faces.regions`). The crops are cut inside the model
(``grid_sample``, bilinear) and resized to 32 px high, so the exported ONNX model has both inputs and
computes the crops in its graph. Without ``regions`` the model uses fixed-ratio boxes
(:data:`ferkit.core.regions.DEFAULT_REGIONS`), the fallback for faces without landmarks.

Each branch: two convolutions (BN after the first), pooling, dropout and two fully connected layers;
the two feature vectors are concatenated and classified by an MLP with dropout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ferkit.core.errors import OptionError
from ferkit.core.regions import DEFAULT_REGIONS
from ferkit.models.base import FerModel, check_dropout, check_sizes
from ferkit.models.registry import register_model

#: crop sizes (height, width) of the two branches
REGION_SIZES = {"eyes": (32, 64), "mouth": (32, 48)}


def crop_grid(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, height, width, 2) sampling grid of ``grid_sample`` (align_corners=False) covering ``boxes``
    (N, 4) in fractions of the image."""
    ys = (torch.arange(height, dtype=boxes.dtype, device=boxes.device) + 0.5) / height
    xs = (torch.arange(width, dtype=boxes.dtype, device=boxes.device) + 0.5) / width
    x0, y0, x1, y1 = (boxes[:, i].view(-1, 1, 1) for i in range(4))
    gx = (x0 + (x1 - x0) * xs.view(1, 1, -1)) * 2 - 1
    gy = (y0 + (y1 - y0) * ys.view(1, -1, 1)) * 2 - 1
    return torch.stack([gx.expand(-1, height, width), gy.expand(-1, height, width)], dim=-1)


def crop_regions(x: torch.Tensor, regions: torch.Tensor) -> list[torch.Tensor]:
    """The eye and mouth crops of faces ``x`` (N, C, H, W) at ``regions`` (N, 2, 4)."""
    crops = []
    for i, (h, w) in enumerate(REGION_SIZES.values()):
        grid = crop_grid(regions[:, i], h, w)
        crops.append(F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False))
    return crops


class RegionBranch(nn.Module):
    """conv-BN-ReLU-pool, conv-ReLU-pool, dropout, fc-ReLU, fc-ReLU."""

    def __init__(self, in_chans: int, size: tuple[int, int], channels: tuple[int, int], hidden: int,
                 features: int, dropout: float):
        super().__init__()
        c1, c2 = channels
        self.convs = nn.Sequential(
            nn.Conv2d(in_chans, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        flat = c2 * (size[0] // 4) * (size[1] // 4)
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, features), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x))


class RegionModel(FerModel):
    """Two region branches (eyes and brows, mouth) and an MLP classifier on their joined features."""

    #: the model takes a second input, ``regions`` (trainer, exporter and classifier provide it)
    takes_regions = True
    classifier_index = 3

    def __init__(self, num_classes: int = 7, in_chans: int = 1, input_size: int = 48,
                 channels: tuple[int, int] = (32, 64), hidden: int = 256, features: int = 128,
                 mlp: int = 256, dropout: float = 0.4):
        super().__init__()
        own = "regions"
        channels = check_sizes(own, "channels", channels)
        if len(channels) != 2:
            raise OptionError(f"regions.channels must name two convolution widths, got {list(channels)}")
        hidden, features, mlp = (check_sizes(own, k, [v])[0] for k, v in
                                 (("hidden", hidden), ("features", features), ("mlp", mlp)))
        dropout = check_dropout(own, dropout)
        self.num_classes = num_classes
        self.branches = nn.ModuleList(
            RegionBranch(in_chans, size, channels, hidden, features, dropout) for size in REGION_SIZES.values())
        self.head = nn.Sequential(nn.Linear(2 * features, mlp), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(mlp, num_classes))
        self.register_buffer("default_regions", torch.tensor(DEFAULT_REGIONS, dtype=torch.float32), persistent=False)

    def regions_or_default(self, x: torch.Tensor, regions: torch.Tensor | None) -> torch.Tensor:
        if regions is None:
            return self.default_regions.to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)
        return regions.to(x.dtype)

    def forward_features(self, x: torch.Tensor, regions: torch.Tensor | None = None) -> torch.Tensor:
        crops = crop_regions(x, self.regions_or_default(x, regions))
        return torch.cat([branch(c) for branch, c in zip(self.branches, crops)], dim=1)

    def forward(self, x: torch.Tensor, regions: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(x, regions))


@register_model("regions", input_size=48, model_cls=RegionModel)
def regions(**cfg) -> RegionModel:
    """Prior attention: eye-and-brow and mouth strips cut from landmarks (second input), two small CNN branches."""
    return RegionModel(**cfg)
