"""Small ONNX models with random weights that disagree, for the ensemble tests (importable as
``onnx_members``: tests/ is on the path)."""

import torch

from ferkit.core.labels import EMOTIONS
from ferkit.export import export_onnx
from ferkit.models import create
from ferkit.models.checkpoint import save_checkpoint

#: members with different architectures, crops and normalisations
MEMBERS = {
    "vgg": ("vgg_compact", {"widths": (8, 16, 16)}, {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}),
    "xcp": ("mini_xception", {}, {"image_size": 48, "input_size": 48, "mean": 0.4, "std": 0.3}),
    "vgg44": ("vgg_compact", {"widths": (8, 8, 16)}, {"image_size": 48, "input_size": 44, "mean": 0.55, "std": 0.2}),
}


def member(tmp_path, key, classes=EMOTIONS, seed=0, **extra):
    arch, cfg, pre = MEMBERS[key]
    torch.manual_seed(seed)
    model = create(arch, num_classes=len(classes), input_size=pre["input_size"], **cfg)
    with torch.no_grad():  # non-trivial BN statistics, so members disagree
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    pt = save_checkpoint(tmp_path / f"{key}.pt", model, classes, pre, **extra)
    return export_onnx(pt, tmp_path / f"{key}.onnx")
