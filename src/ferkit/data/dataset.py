"""The one in-memory dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class Problem:
    """Something a loader could not use: where it is and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class FaceDataset:
    """Grayscale face images with labels.

    images: (N, H, W) uint8. labels: (N,) int64 indices into ``classes``.
    groups: (N,) identity of the source (subject, video or source image) used to keep splits
    leak-free; ``None`` when every image is its own group.
    split: (N,) one of ``train``/``val``/``test`` or ``""`` when the dataset has no official split.
    problems: items the loader skipped, with their path or line number.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    groups: np.ndarray | None = None
    split: np.ndarray | None = None
    name: str = "dataset"
    paths: np.ndarray | None = None
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.classes = tuple(self.classes)
        n = len(self.labels)
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"{self.name}: images must be (N, H, W) uint8, got {self.images.shape} {self.images.dtype}"
            )
        if len(self.images) != n:
            raise ValueError(f"{self.name}: {len(self.images)} images but {n} labels")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(
                f"{self.name}: labels must be in 0..{len(self.classes) - 1}, "
                f"got {self.labels.min()}..{self.labels.max()}"
            )
        for attr in ("groups", "split", "paths"):
            value = getattr(self, attr)
            if value is not None:
                value = np.asarray(value)
                if len(value) != n:
                    raise ValueError(f"{self.name}: {attr} has {len(value)} entries for {n} images")
                setattr(self, attr, value)
        if self.split is not None:
            bad = set(np.unique(self.split)) - set(SPLITS) - {""}
            if bad:
                raise ValueError(f"{self.name}: unknown split names {sorted(bad)}; use {SPLITS}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:3])

    @property
    def has_official_split(self) -> bool:
        return self.split is not None and bool(np.all(self.split != ""))

    def subset(self, index: np.ndarray, name: str | None = None) -> FaceDataset:
        """A new dataset holding the items at ``index`` (integer or boolean)."""
        index = np.asarray(index)

        def pick(a):
            return None if a is None else a[index]

        return FaceDataset(
            images=self.images[index],
            labels=self.labels[index],
            classes=self.classes,
            groups=pick(self.groups),
            split=pick(self.split),
            name=name or self.name,
            paths=pick(self.paths),
        )

    def select_split(self, split: str) -> FaceDataset:
        """The items of one official split (``train``, ``val``, ``test``) or ``all``."""
        if split == "all":
            return self
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {SPLITS + ('all',)}")
        if not self.has_official_split:
            raise ValueError(
                f"{self.name} has no official {split!r} split; use 'all' or make one with "
                "ferkit.data.splits.group_split"
            )
        return self.subset(self.split == split, name=f"{self.name}:{split}")

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts)}

    def group_ids(self) -> np.ndarray:
        """Groups, or one group per image when the dataset has none."""
        return self.groups if self.groups is not None else np.arange(len(self))
