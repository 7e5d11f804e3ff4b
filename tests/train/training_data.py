"""Small datasets and configs the training tests share."""

import hashlib

import numpy as np

from ferkit.data import FaceDataset
from ferkit.train import TrainConfig

TINY = {"widths": (8, 16), "dropout": 0.0}
CLASSES = ("a", "b", "c")


def tiny_config(out, **kw):
    base = {"out": str(out), "model": "vgg_compact", "model_cfg": TINY, "epochs": 1, "batch_size": 16, "lr": 0.05,
            "warmup_epochs": 0.5, "bf16": False, "seed": 3}
    base.update(kw)
    return TrainConfig.from_dict(base)


def imbalanced(train_counts=(24, 8, 4), size=48, seed=0) -> FaceDataset:
    """Training counts per class as given; 3 validation and 3 test images per class."""
    rng = np.random.default_rng(seed)
    labels, split = [], []
    for y, n in enumerate(train_counts):
        labels += [y] * (n + 6)
        split += ["train"] * n + ["val"] * 3 + ["test"] * 3
    labels = np.array(labels, dtype=np.int64)
    images = rng.integers(0, 40, size=(len(labels), size, size)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 8:-8, 8:-8] += np.uint8(40 + 60 * int(y))
    return FaceDataset(images, labels, CLASSES, split=np.array(split), name="imbalanced")


def digest(ds: FaceDataset, part: str) -> str:
    m = ds.split == part
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.images[m]).tobytes())
    h.update(np.ascontiguousarray(ds.labels[m]).tobytes())
    return h.hexdigest()
