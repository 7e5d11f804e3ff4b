"""How closely two analyses of the same frames agree: a cheaper detection schedule against the
detector on every frame, one model against another. Faces are paired per frame by box overlap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ferkit.faces.detection import iou_matrix


@dataclass
class Agreement:
    """``frames``: frames compared (present in both); ``reference_faces``: faces in the reference;
    ``found``: the share of them the other analysis has too (box IoU >= ``pair_iou``); ``extra``:
    faces only the other analysis has; ``box_iou_mean``/``box_iou_min`` over the pairs;
    ``prob_mae``: mean absolute difference of the raw (unsmoothed) probabilities over pairs and
    classes, ``prob_max``: the largest; ``same_label``: the share of pairs with the same top class."""

    frames: int
    reference_faces: int
    found: float
    extra: int
    box_iou_mean: float
    box_iou_min: float
    prob_mae: float
    prob_max: float
    same_label: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _faces(result) -> list[dict[str, Any]]:
    record = result if isinstance(result, dict) else result.to_dict()
    return record["faces"]


def _raw(face: dict[str, Any]) -> np.ndarray:
    probs = face.get("emotions_raw") or face["emotions"]
    return np.array([probs[k] for k in sorted(probs)], dtype=np.float64)


def compare_results(reference: Iterable, other: Iterable, pair_iou: float = 0.5) -> Agreement:
    """Compare two sequences of frame results (``FrameResult`` objects or their dicts) frame by
    frame, matched by frame number."""
    ref = {(r["frame"] if isinstance(r, dict) else r.frame): _faces(r) for r in reference}
    oth = {(r["frame"] if isinstance(r, dict) else r.frame): _faces(r) for r in other}
    frames = sorted(set(ref) & set(oth))
    total = paired = extra = 0
    ious, diffs, same = [], [], []
    for f in frames:
        a, b = ref[f], oth[f]
        total += len(a)
        if not a or not b:
            extra += len(b)
            continue
        overlap = iou_matrix([x["box"] for x in a], [x["box"] for x in b])
        used: set[int] = set()
        for i in np.argsort(-overlap.max(axis=1)):
            j = int(np.argmax(np.where([k in used for k in range(len(b))], -1.0, overlap[i])))
            if j in used or overlap[i, j] < pair_iou:
                continue
            used.add(j)
            paired += 1
            ious.append(float(overlap[i, j]))
            pa, pb = _raw(a[i]), _raw(b[j])
            diffs.append(np.abs(pa - pb))
            same.append(int(np.argmax(pa)) == int(np.argmax(pb)))
        extra += len(b) - len(used)
    d = np.stack(diffs) if diffs else np.zeros((0, 1))
    return Agreement(
        frames=len(frames), reference_faces=total, found=paired / total if total else 1.0, extra=extra,
        box_iou_mean=float(np.mean(ious)) if ious else float("nan"),
        box_iou_min=float(np.min(ious)) if ious else float("nan"),
        prob_mae=float(d.mean()) if len(d) else float("nan"), prob_max=float(d.max()) if len(d) else float("nan"),
        same_label=float(np.mean(same)) if same else float("nan"),
    )
