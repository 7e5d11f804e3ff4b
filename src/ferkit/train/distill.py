"""Knowledge distillation: a student trained on the training split with a teacher's softened probabilities
beside the hard labels (Hinton et al. 2015): loss = (1 - alpha) * CE(labels) + alpha * T^2 * KL(teacher_T || student_T).

Any model ferkit loads can teach (an ONNX model or ensemble, a checkpoint). The teacher is run once over the
training images (un-augmented, optionally with flip TTA) and its probabilities are cached beside the run, keyed by
the teacher file and the images' content; the record goes into ``distill.json`` and every checkpoint."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ferkit.core.errors import InputError
from ferkit.core.paths import file_digest
from ferkit.infer.classifier import EmotionClassifier

log = logging.getLogger("ferkit.train")

RECORD_NAME = "distill.json"


def teacher_probabilities(teacher: str | Path, images: np.ndarray, classes: tuple[str, ...], tta: str,
                          cache_dir: Path, progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The teacher's probabilities (N, len(classes)) for ``images``, columns in ``classes``' order (matched by
    name; a class the teacher lacks is an error), from the cache in ``cache_dir`` when there."""
    clf = EmotionClassifier(teacher)
    missing = [c for c in classes if c not in clf.classes]
    if missing:
        raise InputError(f"teacher {teacher} does not predict {', '.join(missing)} (it predicts "
                         f"{', '.join(clf.classes)}); a teacher must know every class of the dataset")
    if clf.image_size != images.shape[1]:
        raise InputError(f"teacher {teacher} takes {clf.image_size}-pixel faces, the training images are "
                         f"{images.shape[1]} pixels: use image_size = {clf.image_size}")
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(images).tobytes())
    key = f"{file_digest(teacher)}_{h.hexdigest()[:12]}_{tta}"
    path = Path(cache_dir) / f"teacher_{key}.npz"
    start = time.perf_counter()
    if path.exists():
        with np.load(path) as z:
            probs, cached = z["probs"], True
    else:
        from ferkit.evaluate.evaluator import predict_in_batches

        probs = predict_in_batches(clf, images, tta, 256, progress).astype(np.float32)
        cached = False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, probs=probs)
        tmp.replace(path)
    order = [clf.classes.index(c) for c in classes]
    probs = probs[:, order]
    probs = probs / probs.sum(axis=1, keepdims=True)  # a teacher's extra classes (e.g. contempt) renormalised
    record = {"teacher": str(teacher), "teacher_sha256": file_digest(teacher), "teacher_classes": list(clf.classes),
              "teacher_tta": tta, "images": int(len(images)), "cache": path.name, "from_cache": cached,
              "seconds": round(time.perf_counter() - start, 1)}
    log.info("distillation: teacher %s on %d training images%s", Path(teacher).name, len(images),
             " (cached)" if cached else f" ({record['seconds']:.0f} s)")
    return probs, record


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(log p_teacher / T) || softmax(student / T)), averaged over the batch."""
    soft = F.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=1)
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), soft, reduction="batchmean") * temperature ** 2


def write_record(out: Path, record: dict[str, Any]) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / RECORD_NAME).write_text(json.dumps(record, indent=2))
