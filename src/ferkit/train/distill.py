"""Knowledge distillation: a student trained on the training split with a teacher's softened probabilities
beside the hard labels (Hinton et al. 2015): loss = (1 - alpha) * CE(labels) + alpha * T^2 * KL(teacher_T || student_T).

Any model ferkit loads can teach (an ONNX model or ensemble, a checkpoint), in one of two modes
(``teacher_mode``):

* ``cached``: the teacher is run once over the training images (un-augmented, optionally with flip TTA) and its
  probabilities are cached beside the run, keyed by the teacher file and the images' content. Cheap, but the
  student's augmented view is taught what the teacher said of the clean face.
* ``online``: the teacher is run on every training batch as the student sees it (the same warp, crop, erasing and
  noise; the teacher sees its own crop of the augmented face), so teacher and student always look at the same
  pixels ("consistent" distillation, Beyer et al. 2022). It costs one teacher pass per batch.

The record goes into ``distill.json`` and every checkpoint."""

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


def load_teacher(teacher: str | Path, classes: tuple[str, ...], image_size: int, spinning: bool = True
                 ) -> tuple[EmotionClassifier, list[int]]:
    """The teacher, and the index of each of ``classes`` among its outputs (matched by name; a class the
    teacher lacks is an error, as is another face size than the training images')."""
    clf = EmotionClassifier(teacher, spinning=spinning)
    missing = [c for c in classes if c not in clf.classes]
    if missing:
        raise InputError(f"teacher {teacher} does not predict {', '.join(missing)} (it predicts "
                         f"{', '.join(clf.classes)}); a teacher must know every class of the dataset")
    if clf.image_size != image_size:
        raise InputError(f"teacher {teacher} takes {clf.image_size}-pixel faces, the training images are "
                         f"{image_size} pixels: use image_size = {clf.image_size}")
    return clf, [clf.classes.index(c) for c in classes]


def _columns(probs: np.ndarray, order: list[int]) -> np.ndarray:
    """The teacher's probabilities in the dataset's class order; a teacher's extra classes (e.g. contempt)
    are dropped and the rest renormalised."""
    probs = probs[:, order]
    return probs / probs.sum(axis=1, keepdims=True)


def teacher_probabilities(teacher: str | Path, images: np.ndarray, classes: tuple[str, ...], tta: str,
                          cache_dir: Path, progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The teacher's probabilities (N, len(classes)) for ``images``, columns in ``classes``' order, from the
    cache in ``cache_dir`` when there."""
    clf, order = load_teacher(teacher, classes, images.shape[1])
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
    probs = _columns(probs, order)
    record = {"teacher": str(teacher), "teacher_sha256": file_digest(teacher), "teacher_classes": list(clf.classes),
              "teacher_tta": tta, "teacher_mode": "cached", "images": int(len(images)), "cache": path.name,
              "from_cache": cached, "seconds": round(time.perf_counter() - start, 1)}
    log.info("distillation: teacher %s on %d training images%s", Path(teacher).name, len(images),
             " (cached)" if cached else f" ({record['seconds']:.0f} s)")
    return probs, record


class OnlineTeacher:
    """The teacher run on each training batch as the student sees it (``teacher_mode = "online"``):
    ``teacher(whole)`` takes the whole augmented faces (N, 1, H, W) in [0, 1] from
    :func:`ferkit.train.augment.augment_whole_batch` and gives (N, len(classes)) probabilities; the teacher
    sees its own centre crop of them, normalised its way (with ``tta = "flip"`` also mirrored, logits averaged)."""

    def __init__(self, teacher: str | Path, classes: tuple[str, ...], image_size: int, tta: str = "none"):
        if tta not in ("none", "flip"):
            raise InputError(f"an online teacher sees a batch as it is or also mirrored: teacher_tta none or flip, "
                             f"got {tta!r}")
        # its calls alternate with PyTorch's training steps: its threads sleep between calls, not spin
        self.clf, self.order = load_teacher(teacher, classes, image_size, spinning=False)
        if self.clf.takes_regions:
            raise InputError(f"teacher {teacher} is a region model (it needs face regions): use teacher_mode = "
                             f"\"cached\" for it")
        self.tta = tta
        pre = self.clf.preprocess
        self.input_size, self.mean, self.std = int(pre["input_size"]), float(pre["mean"]), float(pre["std"])
        self.record = {"teacher": str(teacher), "teacher_sha256": file_digest(teacher),
                       "teacher_classes": list(self.clf.classes), "teacher_tta": tta, "teacher_mode": "online"}
        log.info("distillation: teacher %s on every training batch as augmented (online)", Path(teacher).name)

    def __call__(self, whole: torch.Tensor) -> torch.Tensor:
        h, s = whole.shape[-1], self.input_size
        o = (h - s) // 2
        x = ((whole[:, :, o : o + s, o : o + s] - self.mean) / self.std).numpy()
        views = [x, x[..., ::-1]] if self.tta == "flip" else [x]
        probs = self.clf.proba_from_inputs(views)
        return torch.from_numpy(_columns(probs, self.order).astype(np.float32))


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(log p_teacher / T) || softmax(student / T)), averaged over the batch."""
    soft = F.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=1)
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), soft, reduction="batchmean") * temperature ** 2


def write_record(out: Path, record: dict[str, Any]) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / RECORD_NAME).write_text(json.dumps(record, indent=2))
