"""DAN, "Distract your Attention: Multi-head Cross Attention Network for Facial Expression Recognition"
(Wen et al., 2021), for small grayscale faces.

* Backbone (the paper's feature clustering network): ferkit's compact ResNet stem and stages
  (:class:`ferkit.models.resnet.ResNet`, options ``widths`` and ``blocks``), giving a C x H x W map.
* ``heads`` attention heads (the multi-head cross attention network), each a spatial attention (1x1 conv
  reducing to C/2 channels, then 3x3, 1x3 and 3x1 convs back to C, summed, ReLU; the channel mean of that
  is a H x W map multiplied onto the features) followed by a channel attention (global average pool, a
  C -> C/16 -> C MLP with a sigmoid, multiplied onto the pooled vector): one C-vector per head.
* Fusion (the attention fusion network), as in the paper: a log-softmax over the heads, then the sum over
  the heads; classified by ``head = Sequential(BatchNorm1d(C), Linear(C, num_classes))``.

``forward_features(x)`` returns the fused (N, C) vector, ``forward_head`` the logits, ``forward`` the logits.

Losses: the model owns its two auxiliary losses, :meth:`DAN.extra_losses`. In training mode each forward
pass keeps (on the model, not in its state) the pooled backbone features and the heads' vectors;
``extra_losses(labels)`` then returns ``{"affinity": ..., "partition": ...}``, already multiplied by
``affinity_weight`` and ``partition_weight``, without a second forward pass (pass ``x=`` to run one first).
The trainer adds their sum to the classification loss.

* affinity loss: the squared distance of each face's pooled backbone features to its class's learnable
  centre (``centers``, num_classes x C), averaged over the batch, divided by the variance of the centres
  (summed over the channels): pulls the features to their centre and pushes the centres apart;
* partition loss: the mean over faces and channels of 1 / (1 + the variance across heads), so it is 1 when
  every head attends alike and lower the more they differ (the paper uses log(1 + K / variance))."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ferkit.core.options import check_float, check_int
from ferkit.models.base import FerModel, check_sizes
from ferkit.models.registry import register_model
from ferkit.models.resnet import ResNet


class SpatialAttention(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        mid = max(1, c // 2)
        self.reduce = nn.Sequential(nn.Conv2d(c, mid, 1), nn.BatchNorm2d(mid))
        self.conv3x3 = nn.Sequential(nn.Conv2d(mid, c, 3, padding=1), nn.BatchNorm2d(c))
        self.conv1x3 = nn.Sequential(nn.Conv2d(mid, c, (1, 3), padding=(0, 1)), nn.BatchNorm2d(c))
        self.conv3x1 = nn.Sequential(nn.Conv2d(mid, c, (3, 1), padding=(1, 0)), nn.BatchNorm2d(c))
        self.act = nn.ReLU()

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) spatial attention map."""
        y = self.reduce(x)
        y = self.act(self.conv3x3(y) + self.conv1x3(y) + self.conv3x1(y))
        return y.mean(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class ChannelAttention(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        hidden = max(4, c // 16)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.attention = nn.Sequential(
            nn.Linear(c, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, c), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.pool(x)
        return v * self.attention(v)


class AttentionHead(nn.Module):
    """Spatial then channel attention: a (N, C) vector."""

    def __init__(self, c: int):
        super().__init__()
        self.spatial = SpatialAttention(c)
        self.channel = ChannelAttention(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel(self.spatial(x))


def affinity_loss(features: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of (N, C) ``features`` to their class ``centers`` over the centres'
    variance (summed over channels)."""
    intra = (features - centers[labels]).pow(2).sum(1).mean()
    return intra / (centers.var(dim=0).sum() + 1e-6)


def partition_loss(heads: torch.Tensor) -> torch.Tensor:
    """(N, K, C) head vectors: mean of 1 / (1 + variance across the K heads); 0 for a single head."""
    if heads.shape[1] < 2:
        return heads.new_zeros(())
    return (1.0 / (1.0 + heads.var(dim=1))).mean()


class DAN(FerModel):
    """``forward_features``: backbone, attention heads and their fusion (a (N, C) vector);
    ``forward_head``: BatchNorm1d and the final ``Linear`` (``head[1]``)."""

    classifier_index = 1

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 48,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (2, 2, 2, 2),
        heads: int = 4,
        affinity_weight: float = 1.0,
        partition_weight: float = 1.0,
    ):
        super().__init__()
        widths = check_sizes("dan", "widths", widths)
        blocks = check_sizes("dan", "blocks", blocks)
        heads = check_int("dan", "heads", heads, lo=1)
        self.affinity_weight = check_float("dan", "affinity_weight", affinity_weight, lo=0.0)
        self.partition_weight = check_float("dan", "partition_weight", partition_weight, lo=0.0)
        self.num_classes = num_classes
        backbone = ResNet(num_classes=1, in_chans=in_chans, input_size=input_size, widths=widths, blocks=blocks)
        self.stem, self.stages = backbone.stem, backbone.stages
        c = widths[-1]
        self.heads = nn.ModuleList(AttentionHead(c) for _ in range(heads))
        self.centers = nn.Parameter(torch.randn(num_classes, c))
        self.head = nn.Sequential(nn.BatchNorm1d(c), nn.Linear(c, num_classes))
        self._last: dict[str, torch.Tensor] | None = None

    @property
    def num_heads(self) -> int:
        return len(self.heads)

    def head_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pooled backbone features (N, C) and the heads' vectors (N, K, C) of faces ``x``."""
        fmap = self.stages(self.stem(x))
        return fmap.mean(dim=(2, 3)), torch.stack([h(fmap) for h in self.heads], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        pooled, heads = self.head_outputs(x)
        # kept for extra_losses while training (a plain attribute: not in the state dict)
        self._last = {"features": pooled, "heads": heads} if self.training else None
        return heads.log_softmax(dim=1).sum(dim=1)

    def extra_losses(self, labels: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The weighted affinity and partition losses of the last training-mode forward pass (or of a
        forward pass on ``x`` first, when given). Consumes what that pass kept."""
        if x is not None:
            self.forward_features(x)
        last, self._last = self._last, None
        if last is None:
            raise RuntimeError("dan.extra_losses needs a forward pass in training mode first (or x=...)")
        features, heads = last["features"].float(), last["heads"].float()
        return {
            "affinity": self.affinity_weight * affinity_loss(features, labels, self.centers.float()),
            "partition": self.partition_weight * partition_loss(heads),
        }

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier, and fresh class centres for the new class count."""
        super().reset_classifier(num_classes)
        old = self.centers
        self.centers = nn.Parameter(torch.randn(self.num_classes, old.shape[1], device=old.device, dtype=old.dtype))


@register_model("dan", input_size=48, model_cls=DAN)
def dan(**cfg) -> DAN:
    """DAN (Wen et al. 2021): compact ResNet backbone, multi-head spatial and channel attention, fused heads, affinity and partition losses."""
    return DAN(**cfg)
