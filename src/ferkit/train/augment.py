"""Batched on-the-fly augmentation in PyTorch (no torchvision): one affine warp per image covering
random resized crop, flip, rotation and translation, then random erasing and gaussian noise; and mixup
(each batch blended with a shuffled copy of itself, labels blended alike)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ferkit.core.errors import OptionError
from ferkit.core.options import check_bool, check_float


@dataclass
class AugmentConfig:
    """Each augmentation is switched off by setting it to 0 / False."""

    hflip: bool = True
    #: random resized crop: zoom range (object size multiplier) and aspect-ratio jitter
    scale_min: float = 0.85
    scale_max: float = 1.15
    aspect: float = 0.1
    #: maximum rotation in degrees
    rotate: float = 10.0
    #: maximum translation as a fraction of the image side (on top of the random crop)
    translate: float = 0.1
    #: random crop from image_size down to input_size
    random_crop: bool = True
    #: random erasing probability
    erase: float = 0.5
    #: gaussian noise: probability and standard deviation (on [0, 1] pixels)
    noise: float = 0.0
    noise_std: float = 0.03
    #: mixup (Zhang et al. 2018): each batch blended with a shuffled copy of itself by one weight drawn from
    #: Beta(mixup, mixup), its labels (and a teacher's targets) alike; 0 is off. With an online teacher the
    #: teacher labels the blended faces ("function matching", Beyer et al. 2022)
    mixup: float = 0.0

    def __post_init__(self) -> None:
        """Check every field when the config is made; numbers are stored as floats."""
        own = "augment"
        self.hflip = check_bool(own, "hflip", self.hflip)
        self.random_crop = check_bool(own, "random_crop", self.random_crop)
        self.scale_min = check_float(own, "scale_min", self.scale_min, lo=0.0, lo_open=True, hi=10.0)
        self.scale_max = check_float(own, "scale_max", self.scale_max, lo=0.0, lo_open=True, hi=10.0)
        if self.scale_min > self.scale_max:
            raise OptionError(
                f"augment.scale_min ({self.scale_min}) must not exceed augment.scale_max ({self.scale_max})"
            )
        self.aspect = check_float(own, "aspect", self.aspect, lo=0.0, hi=1.0)
        self.rotate = check_float(own, "rotate", self.rotate, lo=0.0, hi=180.0)
        self.translate = check_float(own, "translate", self.translate, lo=0.0, hi=1.0)
        self.erase = check_float(own, "erase", self.erase, lo=0.0, hi=1.0)
        self.noise = check_float(own, "noise", self.noise, lo=0.0, hi=1.0)
        self.noise_std = check_float(own, "noise_std", self.noise_std, lo=0.0, hi=1.0)
        self.mixup = check_float(own, "mixup", self.mixup, lo=0.0, hi=100.0)

    @classmethod
    def from_dict(cls, d: Any) -> AugmentConfig:
        """From a table (TOML ``[augment]``, a YAML mapping, a dict); unknown keys are refused."""
        if isinstance(d, AugmentConfig):
            return d
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise OptionError(
                f"augment must be a table of augmentation settings (e.g. [augment] in TOML), got {d!r}"
            )
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(map(str, set(d) - set(known)))
        if unknown:
            raise OptionError(f"unknown augment keys {unknown}; known: {sorted(known)}")
        return cls(**d)


def affine_matrices(n: int, crop_frac: float, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) matrices mapping output to input coordinates in grid_sample's [-1, 1] units."""

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=g)

    zoom = uniform(math.log(cfg.scale_min), math.log(cfg.scale_max)).exp()
    ratio = uniform(-cfg.aspect, cfg.aspect).exp().sqrt()
    sx, sy = crop_frac / (zoom * ratio), crop_frac * ratio / zoom
    angle = uniform(-cfg.rotate, cfg.rotate) * math.pi / 180
    cos, sin = angle.cos(), angle.sin()
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0) if cfg.hflip else torch.ones(n)
    shift = (1 - crop_frac) if cfg.random_crop else 0.0
    tmax = shift + 2 * cfg.translate
    tx, ty = uniform(-tmax, tmax), uniform(-tmax, tmax)
    theta = torch.stack(
        [
            torch.stack([sx * cos * flip, -sy * sin, tx], 1),
            torch.stack([sx * sin * flip, sy * cos, ty], 1),
        ],
        1,
    )
    return theta


def random_erase(x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """Erase one random rectangle (2-25% of the area) per chosen image with uniform noise."""
    n, _, h, w = x.shape
    area = (0.02 + 0.23 * torch.rand(n, generator=g)) * h * w
    aspect = torch.exp((torch.rand(n, generator=g) * 2 - 1) * math.log(3.3))
    eh = (area * aspect).sqrt().clamp(1, h)
    ew = (area / aspect).sqrt().clamp(1, w)
    top = torch.rand(n, generator=g) * (h - eh)
    left = torch.rand(n, generator=g) * (w - ew)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    mask = (
        (rows >= top.view(n, 1, 1))
        & (rows < (top + eh).view(n, 1, 1))
        & (cols >= left.view(n, 1, 1))
        & (cols < (left + ew).view(n, 1, 1))
    )
    mask &= (torch.rand(n, generator=g) < p).view(n, 1, 1)
    noise = torch.rand(x.shape, generator=g)
    return torch.where(mask.unsqueeze(1), noise, x)


def transform_regions(regions: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Region boxes (N, 2, 4: x0, y0, x1, y1 in fractions of the input image) in the augmented output:
    each box's corners moved by the inverse of ``theta`` (output -> input, [-1, 1] units), then the box
    around them (a rotated box becomes the upright box that holds it)."""
    x0, y0, x1, y1 = regions.unbind(-1)
    corners = torch.stack([torch.stack([x0, y0], -1), torch.stack([x1, y0], -1),
                           torch.stack([x0, y1], -1), torch.stack([x1, y1], -1)], dim=2) * 2 - 1  # (N, 2, 4, 2)
    a, t = theta[:, :, :2], theta[:, :, 2]
    inv = torch.linalg.inv(a)  # (N, 2, 2)
    out = torch.einsum("nij,nrkj->nrki", inv, corners - t[:, None, None, :])
    lo, hi = (out.amin(dim=2) + 1) / 2, (out.amax(dim=2) + 1) / 2
    return torch.cat([lo, hi], dim=-1)


def augment_batch(
    images: torch.Tensor, input_size: int, cfg: AugmentConfig, g: torch.Generator,
    regions: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W) uint8 faces to (N, 1, input_size, input_size) float in [0, 1], augmented. With
    ``regions`` (the region model's boxes), returns the faces and the boxes moved as the faces were."""
    x, theta = _warp(images, input_size, input_size, cfg, g)
    x = _erase_and_noise(x, cfg, g)
    if regions is not None:
        return x, transform_regions(regions.float(), theta)
    return x


def augment_whole_batch(
    images: torch.Tensor, input_size: int, cfg: AugmentConfig, g: torch.Generator,
    regions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """As :func:`augment_batch` (the same random draws), and the whole augmented face around it:
    returns ``(crops, whole)``, ``whole`` (N, 1, H, W) float in [0, 1] being the face as warped, erased
    and noised, of which ``crops`` is the centre ``input_size`` square (pixel for pixel when H - input_size
    is even). A teacher that sees the whole face (or another crop of it) sees what the student saw
    (consistent distillation). With ``regions``: ``(crops, whole, moved regions)``."""
    h = images.shape[-1]
    whole, theta = _warp(images, input_size, h, cfg, g)
    o = (h - input_size) // 2
    crops = _erase_and_noise(whole[..., o : o + input_size, o : o + input_size], cfg, g)
    whole[..., o : o + input_size, o : o + input_size] = crops
    if regions is not None:
        return crops, whole, transform_regions(regions.float(), theta)
    return crops, whole


def _warp(images: torch.Tensor, input_size: int, out_size: int, cfg: AugmentConfig, g: torch.Generator
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The faces warped by random affine maps, (N, 1, out_size, out_size), and the maps (N, 2, 3) of the
    ``input_size`` view; a larger ``out_size`` widens the view around the same centre at the same scale."""
    x = images.unsqueeze(1).float() / 255.0
    n, _, h, _ = x.shape
    theta = affine_matrices(n, input_size / h, cfg, g)
    warp = theta
    if out_size != input_size:
        warp = theta.clone()
        warp[:, :, :2] *= out_size / input_size
    grid = F.affine_grid(warp, [n, 1, out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False), theta


def _erase_and_noise(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    if cfg.erase > 0:
        x = random_erase(x, cfg.erase, g)
    if cfg.noise > 0:
        n = len(x)
        noisy = (torch.rand(n, generator=g) < cfg.noise).view(n, 1, 1, 1)
        x = torch.where(noisy, (x + cfg.noise_std * torch.randn(x.shape, generator=g)).clamp(0, 1), x)
    return x


def mixup(tensors: list[torch.Tensor], alpha: float, g: torch.Generator, rng: np.random.Generator
          ) -> tuple[list[torch.Tensor], torch.Tensor, float]:
    """Each of ``tensors`` (the same batch seen several ways: the student's crop, the teacher's whole face)
    blended with itself shuffled, ``lam * x + (1 - lam) * x[perm]``, by one ``lam`` from Beta(alpha, alpha)
    and one ``perm`` for all; returns the blends, ``perm`` and ``lam`` (to blend the labels alike)."""
    lam = float(rng.beta(alpha, alpha))
    perm = torch.randperm(len(tensors[0]), generator=g)
    return [lam * t + (1.0 - lam) * t[perm] for t in tensors], perm, lam
