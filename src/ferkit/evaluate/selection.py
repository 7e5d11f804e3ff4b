"""Choosing ensemble members and their weights on a validation split: the best equal-weight subset
(every subset is tried when there are at most :data:`EXHAUSTIVE_UP_TO` candidates, else the best single
one), then greedy forward selection with replacement (Caruana et al., 2004, "Ensemble selection from
libraries of models"): each round adds (again, if it helps most) the candidate whose inclusion gives the
best accuracy of the averaged probabilities, ties broken by the lower log loss; the best ensemble seen is
kept. Starting from the best subset avoids greedy's trap of a strong single model that no one addition
improves on while a pair of others would. A member chosen k times gets weight k / (number of picks), so the ensemble is the
plain weighted average :func:`ferkit.export.ensemble.build_ensemble` writes. Selection looks at one split
only (FER2013: PublicTest); report the test split of the result separately, never select on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.errors import InputError, OptionError
from ferkit.core.labels import label_mapping
from ferkit.core.model_compat import check_combinable
from ferkit.core.options import check_choice, check_int
from ferkit.data import FaceDataset, load_dataset


@dataclass(frozen=True)
class MemberSelection:
    """The chosen members (first-picked first), their normalised weights and what the selection saw."""

    members: list[Path]
    weights: list[float]
    accuracy: float
    #: every candidate's accuracy alone on the split, by path
    single: dict[str, float]
    #: one row per round: the candidates added (round 0: the starting subset), accuracy and log loss after it
    trace: list[dict[str, Any]] = field(default_factory=list)
    dataset: str = ""
    split: str = "val"
    tta: str = "none"
    n: int = 0

    def record(self) -> dict[str, Any]:
        """What the ensemble's metadata keeps of the selection."""
        return {"method": "best equal-weight subset, then greedy forward selection with replacement "
                          "(Caruana et al. 2004)",
                "dataset": self.dataset, "split": self.split, "tta": self.tta, "n": self.n,
                "accuracy": round(self.accuracy, 4), "single": {k: round(v, 4) for k, v in self.single.items()},
                "trace": self.trace}


def _scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    accuracy = float((probs.argmax(1) == y).mean())
    log_loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())
    return accuracy, log_loss


def ensemble_probs(views: np.ndarray) -> np.ndarray:
    """An ensemble's probabilities from the weighted mean of its members' probabilities per TTA view
    ``views`` (V, N, C): logits (the log of that mean) averaged over the views, then a softmax, as
    :class:`ferkit.infer.classifier.EmotionClassifier` does with an ensemble graph and ``tta``."""
    logits = np.log(np.clip(views, 1e-12, None)).mean(0)
    logits -= logits.max(1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


#: up to this many candidates, every subset (equal weights) is tried before the greedy rounds
EXHAUSTIVE_UP_TO = 10


def _key(views: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    acc, loss = _scores(ensemble_probs(views), y)
    return acc, -loss


def _as_views(probs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(p, dtype=np.float64).reshape((-1,) + np.shape(p)[-2:]) for p in probs]


def best_subset(probs: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Counts (0 or 1) of the subset whose equal-weight average scores best (accuracy, then log loss);
    ``probs`` as in :func:`greedy_selection`."""
    probs = _as_views(probs)
    best, best_key = None, None
    for mask in range(1, 2 ** len(probs)):
        chosen = [i for i in range(len(probs)) if mask >> i & 1]
        key = _key(sum(probs[i] for i in chosen) / len(chosen), y)
        if best_key is None or key > best_key:
            best, best_key = chosen, key
    counts = np.zeros(len(probs), dtype=np.int64)
    counts[best] = 1
    return counts


def greedy_selection(probs: list[np.ndarray], y: np.ndarray, rounds: int,
                     start: np.ndarray | None = None) -> tuple[np.ndarray, list[dict]]:
    """Counts per candidate (``probs[i]``: (N, C) probabilities of candidate i; ``y``: true labels): from
    ``start`` (counts; default the best single candidate, picked in round 1) add one pick a round, the
    candidate that scores best with it, for ``rounds`` rounds; returns the counts of the best ensemble
    seen and every round's scores (round 0: the start)."""
    probs = _as_views(probs)
    trace = []
    if start is None:
        counts = np.zeros(len(probs), dtype=np.int64)
    else:
        counts = np.asarray(start, dtype=np.int64).copy()
        acc, neg = _key(sum(c * p for c, p in zip(counts, probs)) / counts.sum(), y)
        trace.append({"round": 0, "added": [int(i) for i in np.flatnonzero(counts)], "accuracy": round(acc, 4),
                      "log_loss": round(-neg, 4)})
    total = sum(c * p for c, p in zip(counts, probs)) if counts.any() else 0.0
    best_counts = counts.copy()
    best_key = _key(total / counts.sum(), y) if counts.any() else None
    for r in range(1, rounds + 1):
        n = counts.sum() + 1
        keys = [_key((total + p) / n, y) for p in probs]
        pick = max(range(len(probs)), key=lambda i: keys[i])
        total = total + probs[pick]
        counts[pick] += 1
        trace.append({"round": r, "added": [pick], "accuracy": round(keys[pick][0], 4),
                      "log_loss": round(-keys[pick][1], 4)})
        if best_key is None or keys[pick] > best_key:
            best_key, best_counts = keys[pick], counts.copy()
    return best_counts, trace


def select_members(
    candidates: list[str | Path],
    data: str | Path | FaceDataset,
    split: str = "val",
    tta: str = "none",
    rounds: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> MemberSelection:
    """Choose members among ``candidates`` (models of the same classes and face size: ONNX files for
    :func:`ferkit.export.ensemble.make_ensemble`, checkpoints to compare only) and their weights by the
    accuracy on ``split`` of ``data`` of the ensemble they make, scored as the ensemble graph computes it
    (``tta``: ``none`` or ``flip``, the ensemble's own mirror image; the graph takes the whole face, so no ten
    crops); ``rounds``: greedy picks after the starting subset (0: twice the number of candidates)."""
    from ferkit.evaluate.evaluator import predict_in_batches
    from ferkit.infer.classifier import EmotionClassifier

    if len(candidates) < 2:
        raise OptionError(f"selecting members needs at least two candidates, got {len(candidates)}")
    check_choice("select_members", "split", split, ("train", "val", "test", "all"))
    check_choice("select_members", "tta", tta, ("none", "flip"))
    check_int("select_members", "rounds", rounds, lo=0)
    rounds = rounds or 2 * len(candidates)
    paths = [Path(c) for c in candidates]
    if len({p.resolve() for p in paths}) != len(paths):
        raise OptionError("a candidate is listed twice; selection already picks a member more than once when "
                          "that helps")
    classifiers = [EmotionClassifier(p) for p in paths]
    first = classifiers[0]
    check_combinable(paths, [c.classes for c in classifiers], [c.image_size for c in classifiers], "candidates")
    ds = data if isinstance(data, FaceDataset) else load_dataset(data, size=first.image_size, progress=progress)
    ds = ds.select_split(split)
    if ds.image_size != (first.image_size, first.image_size):
        raise InputError(f"{ds.name}: images are {ds.image_size[0]}x{ds.image_size[1]}, the candidates expect "
                         f"{first.image_size}x{first.image_size} faces")
    if len(ds) == 0:
        raise InputError(f"{ds.name}: no images in split {split!r} to select on")
    mapping = label_mapping(ds.classes, first.classes)
    known = mapping[ds.labels] >= 0
    if not known.any():
        raise InputError(f"{ds.name}: no images of the candidates' classes in split {split!r} to select on")
    y = mapping[ds.labels][known]
    faces = ds.images[known]
    views = [faces, faces[:, :, ::-1]] if tta == "flip" else [faces]  # the ensemble's own flip: its whole face
    probs = [np.stack([predict_in_batches(clf, v, "none", batch_size, progress) for v in views])
             for clf in classifiers]
    start = best_subset(probs, y) if len(probs) <= EXHAUSTIVE_UP_TO else None
    counts, trace = greedy_selection(probs, y, rounds, start)
    first_pick = {}
    for row in trace:
        for i in row["added"]:
            first_pick.setdefault(i, row["round"])
        row["added"] = [str(paths[i]) for i in row["added"]]
    order = sorted(np.flatnonzero(counts).tolist(), key=first_pick.__getitem__)
    weights = [float(counts[i]) / float(counts.sum()) for i in order]
    mixed = ensemble_probs(sum(w * probs[i] for w, i in zip(weights, order)))
    return MemberSelection(
        members=[paths[i] for i in order], weights=weights, accuracy=_scores(mixed, y)[0],
        single={str(p): _scores(ensemble_probs(pr), y)[0] for p, pr in zip(paths, probs)}, trace=trace,
        dataset=ds.name, split=split, tta=tta, n=len(y))
