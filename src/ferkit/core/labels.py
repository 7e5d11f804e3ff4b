"""Canonical emotion classes, mapping between datasets' label sets, and sentiment maps.

Every dataset in ferkit names its classes with the canonical names below; a model trained on one
label set can be evaluated on another by mapping names, never positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: The seven basic emotions in FER2013's order (the order of every ferkit model's output).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: CK+ adds contempt as label 7.
CKPLUS_CLASSES: tuple[str, ...] = EMOTIONS + ("contempt",)
CANONICAL: tuple[str, ...] = CKPLUS_CLASSES

#: Spellings seen in public datasets' folder names and label files.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
    "contempt": "contempt",
}

#: BGR colour per class, for annotated images and plots
EMOTION_COLORS = {
    "angry": (40, 40, 220),
    "disgust": (40, 140, 40),
    "fear": (160, 60, 160),
    "happy": (40, 200, 240),
    "sad": (200, 120, 40),
    "surprise": (0, 140, 255),
    "neutral": (170, 170, 170),
    "contempt": (100, 100, 160),
}
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

#: Named 3-way sentiment maps. "default" follows valence; "fear_sad_neutral" is the map some
#: analyses use, where fear and sadness count as neutral.
SENTIMENT_MAPS: dict[str, dict[str, str]] = {
    "default": {
        "happy": "positive",
        "surprise": "positive",
        "neutral": "neutral",
        "angry": "negative",
        "disgust": "negative",
        "fear": "negative",
        "sad": "negative",
        "contempt": "negative",
    },
    "fear_sad_neutral": {
        "happy": "positive",
        "surprise": "positive",
        "neutral": "neutral",
        "fear": "neutral",
        "sad": "neutral",
        "angry": "negative",
        "disgust": "negative",
        "contempt": "negative",
    },
}


def canonical_name(name: str) -> str:
    """Return the canonical class name for a dataset's spelling (case-insensitive)."""
    key = name.strip().lower()
    if key not in ALIASES:
        raise KeyError(f"unknown emotion class {name!r}; known: {sorted(set(ALIASES))}")
    return ALIASES[key]


def label_mapping(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Index map from ``source`` classes to ``target`` classes by name; -1 where absent in target."""
    target_index = {canonical_name(c): i for i, c in enumerate(target)}
    return np.array([target_index.get(canonical_name(c), -1) for c in source], dtype=np.int64)


def remap_labels(labels: np.ndarray, source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Map integer labels from ``source`` class order to ``target`` (-1 for classes target lacks)."""
    return label_mapping(source, target)[np.asarray(labels, dtype=np.int64)]


def sentiment_map(name: str | Mapping[str, str] = "default") -> dict[str, str]:
    """A sentiment map by name, or a user's own mapping validated against the canonical classes."""
    if isinstance(name, Mapping):
        mapping = {canonical_name(k): v for k, v in name.items()}
    else:
        if name not in SENTIMENT_MAPS:
            raise KeyError(f"unknown sentiment map {name!r}; known: {sorted(SENTIMENT_MAPS)}")
        mapping = dict(SENTIMENT_MAPS[name])
    bad = {v for v in mapping.values() if v not in SENTIMENTS}
    if bad:
        raise ValueError(f"sentiments must be one of {SENTIMENTS}, got {sorted(bad)}")
    return mapping


def sentiment_probabilities(
    probs: np.ndarray, classes: Sequence[str] = EMOTIONS, mapping: str | Mapping[str, str] = "default"
) -> np.ndarray:
    """Sum class probabilities (..., C) into (..., 3) in the order of :data:`SENTIMENTS`."""
    m = sentiment_map(mapping)
    probs = np.asarray(probs, dtype=np.float64)
    out = np.zeros(probs.shape[:-1] + (len(SENTIMENTS),), dtype=np.float64)
    for i, c in enumerate(classes):
        out[..., SENTIMENTS.index(m[canonical_name(c)])] += probs[..., i]
    return out


def sentiment_of(label: str, mapping: str | Mapping[str, str] = "default") -> str:
    """The sentiment of one emotion label."""
    return sentiment_map(mapping)[canonical_name(label)]
