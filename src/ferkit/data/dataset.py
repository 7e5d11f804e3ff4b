"""The one in-memory dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ferkit.core.errors import InputError, OptionError

SPLITS: tuple[str, ...] = ("train", "val", "test")


class DatasetWarning(UserWarning):
    """Something a loader skipped that the user should know about (an empty or unknown class folder)."""


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
        self.classes = tuple(self.classes)
        check_arrays(self.name, self.images, self.labels, self.classes)
        self.labels = np.asarray(self.labels).astype(np.int64)
        n = len(self.labels)
        for attr in ("groups", "split", "paths"):
            value = getattr(self, attr)
            if value is not None:
                value = np.asarray(value)
                if value.ndim != 1 or len(value) != n:
                    raise InputError(f"{self.name}: {attr} has shape {value.shape}, expected ({n},): one per image")
                setattr(self, attr, value)
        if self.split is not None:
            bad = set(np.unique(self.split).tolist()) - set(SPLITS) - {""}
            if bad:
                raise InputError(f"{self.name}: unknown split names {sorted(map(str, bad))}; use {', '.join(SPLITS)}")

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
            raise OptionError(f"split must be one of {', '.join(SPLITS + ('all',))}; got {split!r}")
        if not self.has_official_split:
            raise OptionError(
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


def check_arrays(where: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> None:
    """Raise :class:`InputError` naming ``where`` unless ``images`` is (N, H, W) uint8 and ``labels``
    holds N whole numbers in 0..len(classes)-1."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise InputError(
            f"{where}: images must be (N, H, W) uint8 (grayscale), got shape {images.shape} dtype {images.dtype}"
        )
    if labels.ndim != 1:
        raise InputError(f"{where}: labels must be one-dimensional (one per image), got shape {labels.shape}")
    if len(images) != len(labels):
        raise InputError(f"{where}: {len(images)} images but {len(labels)} labels")
    floating = np.issubdtype(labels.dtype, np.floating)
    if labels.dtype == np.bool_ or not (np.issubdtype(labels.dtype, np.integer) or floating):
        raise InputError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    if floating and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise InputError(f"{where}: labels must be whole numbers (class indices), got fractional or NaN values")
    bad = (labels < 0) | (labels >= len(classes))
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise InputError(
            f"{where}: labels must be in 0..{len(classes) - 1} ({', '.join(classes)}); {int(bad.sum())} are not "
            f"(values {sorted(set(labels[bad].tolist()))[:5]} at indices {first}{' ...' if bad.sum() > 5 else ''})"
        )
