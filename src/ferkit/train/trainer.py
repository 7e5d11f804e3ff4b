"""The training loop: augmentation, class weights, SGD/Adam/AdamW, cosine or plateau schedules, weight EMA,
early stopping, bf16 autocast and channels_last on the CPU, metrics CSV and curves, best checkpoint by
validation accuracy, resume, and Ctrl-C that saves before exiting."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ferkit.core.errors import (
    InputError,
    MissingInputError,
    OptionError,
    OutputError,
    OutputExistsError,
    ResumeError,
)
from ferkit.core.outputs import check_folder_writable
from ferkit.core.preprocess import model_input
from ferkit.core.regions import region_views
from ferkit.data import FaceDataset, load_dataset
from ferkit.data.splits import check_no_leak, train_val_indices
from ferkit.evaluate.metrics import label_metrics
from ferkit.infer.classifier import BUNDLED_MODELS
from ferkit.models import create, model_entry
from ferkit.models.batchnorm import batch_slices, batchnorms, estimating_batchnorm
from ferkit.models.checkpoint import model_from_state, read_checkpoint, save_checkpoint
from ferkit.models.registry import BUILD_ARGS
from ferkit.train.augment import augment_batch, augment_whole_batch, mixup
from ferkit.train.balance import RESAMPLERS, class_counts, log_counts, resample, sampler_order, write_record
from ferkit.train.config import TrainConfig, resolve_bf16
from ferkit.train.distill import RECORD_NAME as DISTILL_RECORD
from ferkit.train.distill import OnlineTeacher, distillation_loss, teacher_probabilities
from ferkit.train.distill import write_record as write_distill_record
from ferkit.train.extra import RECORD_NAME as EXTRA_RECORD
from ferkit.train.extra import check_extra_paths, extra_training_set
from ferkit.train.extra import write_record as write_extra_record
from ferkit.train.plots import plot_curves
from ferkit.train.regions import RECORD_NAME as REGIONS_RECORD
from ferkit.train.regions import cached_regions
from ferkit.train.regions import write_record as write_regions_record
from ferkit.train.subset import RECORD_NAME as TRAIN_SET_RECORD
from ferkit.train.subset import drop_held_out_near_duplicates, stratified_limit
from ferkit.train.subset import write_record as write_train_set_record

log = logging.getLogger("ferkit.train")

#: val_loss/val_acc are those of the model that is checkpointed (the weight average when ema_decay is on);
#: val_acc_raw is the live weights' accuracy
METRIC_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_acc_raw", "val_macro_f1",
                 "val_balanced_acc", "lr", "seconds"]

#: the files of a finished or partial run in an output folder; ``--overwrite`` removes exactly these
RUN_FILES = ("last.pt", "best.pt", "metrics.csv", "curves.png", "config.json", "balance.json", EXTRA_RECORD,
             TRAIN_SET_RECORD, REGIONS_RECORD, DISTILL_RECORD, "last.pt.tmp", "best.pt.tmp")
#: a folder holding any of these holds a run
RUN_MARKERS = ("last.pt", "best.pt", "metrics.csv")


def upgrade_metrics_csv(path: str | Path) -> None:
    """Give a resumed run's metrics.csv the current columns (values it lacks stay empty)."""
    path = Path(path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = list(rows[0]) if rows else []
    if header == METRIC_FIELDS or not rows:
        return
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class TrainResult:
    out: Path
    best_checkpoint: Path
    best_val_acc: float
    best_epoch: int
    epochs_run: int
    interrupted: bool = False
    stopped_early: bool = False


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> torch.Tensor | None:
    """``balanced``: n / (k * count) as scikit-learn; ``sqrt``: its square root (milder)."""
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = len(labels) / (n_classes * np.maximum(counts, 1))
    if mode == "sqrt":
        w = np.sqrt(w)
    elif mode != "balanced":
        raise OptionError(f"class_weights must be one of none, balanced, sqrt; got {mode!r}")
    return torch.tensor(w, dtype=torch.float32)


def _lr_lambda(cfg: TrainConfig, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.scheduler == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))
        return 1.0

    return f


class Trainer:
    """One training run. With ``resume`` (a ``last.pt``), the model, optimizer and counters continue
    that checkpoint's run (``init_from`` is then not read: the weights come from the checkpoint)."""

    def __init__(self, cfg: TrainConfig, dataset: FaceDataset | None = None, progress: bool | None = None,
                 resume: str | Path | None = None):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.progress = sys.stderr.isatty() if progress is None else progress
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        check_extra_paths(cfg.extra_train)  # a missing extra dataset: before the main one loads
        if cfg.teacher in BUNDLED_MODELS:  # a bundled model's name teaches as its file (recorded so)
            cfg.teacher = str(BUNDLED_MODELS[cfg.teacher])
        if cfg.teacher and not Path(cfg.teacher).is_file():
            raise MissingInputError(f"teacher {cfg.teacher}: no such model file")
        self.ds = dataset if dataset is not None else load_dataset(cfg.data, cfg.format, size=cfg.image_size)
        for p in self.ds.problems:
            log.warning("skipped %s", p)
        if self.ds.image_size != (cfg.image_size, cfg.image_size):
            raise OptionError(f"dataset images are {self.ds.image_size}, config image_size is {cfg.image_size}")
        self.train_idx, self.val_idx = train_val_indices(self.ds, cfg.val_fraction, cfg.seed)
        if not self.ds.has_official_split:
            check_no_leak(self.ds, self.train_idx, self.val_idx)
        if len(self.train_idx) == 0 or len(self.val_idx) == 0:
            raise InputError(f"{self.ds.name}: need both training and validation images")
        self._select_training_images()
        self.input_size = cfg.input_size or model_entry(cfg.model).input_size
        self.extra_images = self.extra_labels = None
        self.extra_record = None
        if cfg.extra_train:
            self.extra_images, self.extra_labels, self.extra_record = extra_training_set(
                cfg.extra_train, self.ds.classes, cfg.image_size, progress=self.progress)
        train_pixels = self._base_train_images().astype(np.float32) / 255.0
        self.preprocess = {
            "image_size": cfg.image_size,
            "input_size": self.input_size,
            "mean": round(float(train_pixels.mean()), 6),
            "std": round(float(train_pixels.std()), 6),
        }
        del train_pixels
        torch.manual_seed(cfg.seed)
        self.dataset_record = dataset_record(self.ds, cfg.data)
        self.inherited: dict[str, Any] = {}  # records carried over from init_from (pruning)
        resumed = read_checkpoint(resume) if resume is not None else None
        if resumed is not None:
            self._check_resume_data(resumed, resume)
            # the model the checkpoint was trained with, whatever the config names (init_from is not read)
            self.model = self._checkpoint_model(resumed, resume, self._config_model())
        elif cfg.init_from:
            self.model = self._model_from(cfg.init_from)
        else:
            self.model = self._fresh_model()
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self._setup_balance()
        self._check_mixup()
        self._setup_regions()
        self._setup_teacher()
        self.training_set = self._training_set_fingerprint()
        n_train = len(self.train_labels) if self.train_labels is not None else len(self.train_idx)
        self.steps_per_epoch = max(1, n_train // cfg.batch_size)
        self._setup_optimisation()
        self.bf16 = resolve_bf16(cfg.bf16)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.epoch = 0
        self.best_acc = -1.0
        self.best_epoch = 0
        self.bad_epochs = 0
        if resumed is not None:
            self.resume(resume, state=resumed)

    def _select_training_images(self) -> None:
        """Apply ``exclude_test_near_duplicates`` and ``train_limit`` to the training indices (only
        training images are ever removed); what they did goes into ``train_set.json``."""
        cfg = self.cfg
        self.train_set_record = None
        if not (cfg.exclude_test_near_duplicates or cfg.train_limit):
            return
        record: dict[str, Any] = {"training_split": len(self.train_idx)}
        if cfg.exclude_test_near_duplicates:
            self.train_idx, record["exclude_test_near_duplicates"] = drop_held_out_near_duplicates(
                self.ds, self.train_idx, progress=self.progress)
        if cfg.train_limit:
            before = len(self.train_idx)
            self.train_idx = stratified_limit(self.ds.labels, self.train_idx, cfg.train_limit, cfg.seed)
            record["train_limit"] = {"limit": cfg.train_limit, "from": int(before), "kept": len(self.train_idx)}
            log.info("train_limit: training on %d of %d training images (class-stratified, seed %d)",
                     len(self.train_idx), before, cfg.seed)
        record["trained_on"] = len(self.train_idx)
        self.train_set_record = record

    def _base_train_images(self) -> np.ndarray:
        """The training images before balancing: the dataset's training split, then any ``extra_train``."""
        images = self.ds.images[self.train_idx]
        if self.extra_images is not None:
            images = np.concatenate([images, self.extra_images])
        return images

    def _base_train_labels(self) -> np.ndarray:
        labels = self.ds.labels[self.train_idx]
        if self.extra_labels is not None:
            labels = np.concatenate([labels, self.extra_labels]).astype(labels.dtype)
        return labels

    def _setup_balance(self) -> None:
        """Class weights, and ``cfg.balance``: a training set of its own (``train_images``/``train_labels``:
        resampled, or the training split plus ``extra_train``; None when the dataset's training indices are
        used) and the record written to balance.json."""
        cfg = self.cfg
        labels = self._base_train_labels()
        mode = "balanced" if cfg.balance == "class_weights" and cfg.class_weights == "none" else cfg.class_weights
        self.weights = class_weights(labels, len(self.ds.classes), mode)
        self.train_images = self.train_labels = None
        if self.extra_labels is not None:
            self.train_images, self.train_labels = self._base_train_images(), labels
        self.balance_record = None
        if cfg.balance in RESAMPLERS:
            self.out.mkdir(parents=True, exist_ok=True)
            self.train_images, self.train_labels, self.balance_record = resample(
                self._base_train_images(), labels, self.ds.classes, cfg.balance, pca=cfg.balance_pca,
                seed=cfg.seed, out=self.out, progress=self.progress)
        elif cfg.balance != "none":
            before = class_counts(labels, self.ds.classes)
            if cfg.balance == "sampler":  # the expected draws per epoch
                present = sum(1 for n in before.values() if n)
                after = {c: (round(len(labels) / present) if n else 0) for c, n in before.items()}
            else:
                after = dict(before)
            self.balance_record = {"method": cfg.balance, "before": before, "after": after, "seconds": 0.0}
            if self.weights is not None:
                self.balance_record["weights"] = dict(zip(before, map(float, self.weights.tolist())))
        if self.balance_record is not None:
            log_counts(self.balance_record)

    def _check_mixup(self) -> None:
        """Mixup blends two faces and their labels; a model with its own label losses (DAN's class centres)
        would pull a blend toward one label only, so it is refused there (region models: in _setup_regions)."""
        if self.cfg.augment.mixup > 0 and hasattr(self.model, "extra_losses"):
            raise OptionError(f"augment.mixup blends two faces and their labels, and {self.cfg.model}'s own losses "
                              "take one label per face: train it with mixup = 0")

    def _setup_regions(self) -> None:
        """For a model that takes face regions (``takes_regions``): the boxes of every image it sees,
        from landmarks cached beside the run (``regions_all`` for the dataset, ``train_regions`` for a
        training set of its own)."""
        self.takes_regions = bool(getattr(self.model, "takes_regions", False))
        self.regions_all = self.train_regions = None
        self.regions_record = None
        if not self.takes_regions:
            return
        if self.cfg.augment.mixup > 0:
            raise OptionError(f"augment.mixup blends two faces, whose regions differ: {self.cfg.model} takes face "
                              "regions, so train it with mixup = 0")
        self.regions_all, record = cached_regions(self.ds.images, self.out, self.ds.name, self.progress)
        self.regions_record = [record]
        if self.train_images is not None:
            self.train_regions, record = cached_regions(self.train_images, self.out, "training set (balanced or "
                                                        "with extra_train)", self.progress)
            self.regions_record.append(record)

    def _setup_teacher(self) -> None:
        """With ``teacher``: its probabilities for every training image (``teacher_probs``, indexed as the
        training images are: by dataset index, or into a training set of its own)."""
        cfg = self.cfg
        self.teacher_probs = self.distill_record = self.online_teacher = None
        if not cfg.teacher:
            return
        if cfg.teacher_mode == "online":
            self.online_teacher = OnlineTeacher(cfg.teacher, tuple(self.ds.classes), self.ds.images.shape[1],
                                                cfg.teacher_tta)
            self.distill_record = dict(self.online_teacher.record, temperature=cfg.distill_temperature,
                                       alpha=cfg.distill_alpha)
            return
        own = self.train_images is not None
        images = self.train_images if own else self.ds.images[self.train_idx]
        labels = self.train_labels if own else self.ds.labels[self.train_idx]
        probs, record = teacher_probabilities(cfg.teacher, images, tuple(self.ds.classes), cfg.teacher_tta,
                                              self.out, self.progress)
        if own:
            self.teacher_probs = probs
        else:
            self.teacher_probs = np.zeros((len(self.ds), len(self.ds.classes)), dtype=np.float32)
            self.teacher_probs[self.train_idx] = probs
        record.update(temperature=cfg.distill_temperature, alpha=cfg.distill_alpha,
                      teacher_train_accuracy=round(float((probs.argmax(1) == labels).mean()), 4))
        self.distill_record = record

    def _training_set_fingerprint(self, legacy: bool = False) -> str:
        """What the run trains on: the training indices of the dataset and the content of any
        ``extra_train`` images and labels (the resampled set follows from these, the method and seed), and
        the teacher with how it is run. ``legacy``: as checkpoints before ferkit recorded the teacher's TTA
        wrote it (the teacher's digest, and "online" in that mode), so their runs still resume."""
        h = hashlib.sha1()
        h.update(np.ascontiguousarray(self.train_idx, dtype=np.int64).tobytes())
        if self.extra_images is not None:
            h.update(np.ascontiguousarray(self.extra_images).tobytes())
            h.update(np.ascontiguousarray(self.extra_labels, dtype=np.int64).tobytes())
        if self.distill_record is not None:  # another teacher, or the same one run another way, gives other targets
            r = self.distill_record
            if legacy:
                h.update(r["teacher_sha256"].encode())
                if r["teacher_mode"] == "online":
                    h.update(b"online")
            else:
                h.update(f"{r['teacher_sha256']}/{r['teacher_mode']}/{r['teacher_tta']}".encode())
        return h.hexdigest()[:16]

    def _forward(self, model: torch.nn.Module, x: torch.Tensor, regions: torch.Tensor | None) -> torch.Tensor:
        return model(x) if regions is None else model(x, regions)

    def _check_resume_data(self, state: dict, path: str | Path) -> None:
        """Refuse to continue a checkpoint on other data: other classes, image size, or (when the
        checkpoint records it) another dataset (its image count or content fingerprint differ)."""
        if "resume" not in state:
            raise ResumeError(f"{path}: has no optimizer state to resume from (use last.pt)")
        if list(state["classes"]) != list(self.ds.classes):
            raise ResumeError(f"{path} was trained on classes {state['classes']}, this dataset has "
                              f"{list(self.ds.classes)}; resume on the same dataset")
        if state["preprocess"]["image_size"] != self.cfg.image_size:
            raise ResumeError(f"{path} was trained on {state['preprocess']['image_size']}-pixel faces, the config "
                              f"has image_size = {self.cfg.image_size}; resume with the run's config")
        saved = state.get("dataset_record")
        if not isinstance(saved, dict):
            log.warning("%s records no dataset fingerprint (an older checkpoint): cannot check that %s is the "
                        "dataset it was trained on", path, self.cfg.data or self.ds.name)
            return
        own = self.dataset_record
        if saved.get("n") != own["n"] or saved.get("fingerprint") != own["fingerprint"]:
            raise ResumeError(
                f"{path} was trained on {saved.get('path') or saved.get('name')} ({saved.get('n')} images, "
                f"fingerprint {saved.get('fingerprint')}); this is {own['path'] or own['name']} ({own['n']} images, "
                f"fingerprint {own['fingerprint']}): resume on the same dataset, or start a new run"
            )

    def _fresh_model(self) -> torch.nn.Module:
        """The config's model for the dataset's classes, freshly initialised."""
        cfg = self.cfg
        return create(cfg.model, num_classes=len(self.ds.classes), input_size=self.input_size, **cfg.model_cfg)

    def _config_model(self) -> dict[str, Any]:
        """How the config's model would be built (as ``model.ferkit_cfg`` records it)."""
        return {"name": self.cfg.model, "num_classes": len(self.ds.classes), "in_chans": 1,
                "input_size": self.input_size, **self.cfg.model_cfg}

    def _checkpoint_model(self, state: dict, path: str | Path, current: dict[str, Any]) -> torch.nn.Module:
        """The model a checkpoint was trained with; when it is not ``current`` (the config's), a warning
        says so and the config's model, model_cfg and input_size are made the checkpoint's."""
        saved = dict(state["model"])
        if state.get("structure") is not None or _plain(saved) == _plain(current):
            return model_from_state(state)
        saved_cfg = {k: v for k, v in saved.items() if k not in BUILD_ARGS and k != "name"}
        own_cfg = {k: v for k, v in current.items() if k not in BUILD_ARGS and k != "name"}
        log.warning(
            "%s was trained as %r %s (input %s); the config names %r %s (input %s): "
            "resuming with the checkpoint's model",
            path, saved["name"], saved_cfg, saved.get("input_size"), current["name"], own_cfg,
            current.get("input_size"),
        )
        model = create(**saved)
        self.input_size = int(saved["input_size"])
        self.cfg = dataclasses.replace(self.cfg, model=saved["name"], model_cfg=saved_cfg, input_size=self.input_size)
        return model

    def _setup_optimisation(self) -> None:
        """Memory format, weight average, optimizer and schedules of ``self.model`` (again after
        :meth:`resume` rebuilds the model)."""
        cfg = self.cfg
        self.model.to(memory_format=self.memory_format)
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise OptionError(f"ema_decay must be in [0, 1), got {cfg.ema_decay}")
        self.ema = (
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
            if cfg.ema_decay
            else None
        )
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(
                self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
            )
        elif cfg.optimizer == "adam":  # L2 weight decay in the gradient, as plain Adam recipes use it
            self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adamw":
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            raise OptionError(f"optimizer must be one of sgd, adam, adamw; got {cfg.optimizer!r}")
        if cfg.scheduler not in ("cosine", "plateau", "none"):
            raise OptionError(f"scheduler must be one of cosine, plateau, none; got {cfg.scheduler!r}")
        self.step_sched = torch.optim.lr_scheduler.LambdaLR(self.opt, _lr_lambda(cfg, self.steps_per_epoch))
        self.plateau = (
            torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.opt, mode="max", factor=cfg.plateau_factor, patience=cfg.plateau_patience
            )
            if cfg.scheduler == "plateau"
            else None
        )

    def _model_from(self, path: str | Path) -> torch.nn.Module:
        """Fine-tuning: the config's architecture with every weight of checkpoint ``path``. Built with the
        checkpoint's class count and loaded whole; when the dataset has another class count, the final
        classifier is then replaced by a fresh one (``reset_classifier``)."""
        state = read_checkpoint(path)
        saved = state["model"]
        cfg = self.cfg
        if cfg.init_partial:
            return self._partial_model_from(path, state)
        if saved["name"] != cfg.model:
            raise OptionError(
                f"init_from {path} holds a {saved['name']!r} model, but the config trains {cfg.model!r}: "
                f"fine-tuning needs the same architecture (set model = {saved['name']!r} or use a "
                f"{cfg.model!r} checkpoint)"
            )
        n_saved = int(saved["num_classes"])
        if state.get("pruning"):  # a fine-tuned pruned model keeps the record of how it was pruned
            self.inherited["pruning"] = state["pruning"]
        if state.get("structure") is not None:  # a pruned model: its own layers, whatever model_cfg says
            model = model_from_state(state)
        else:
            model = create(cfg.model, num_classes=n_saved, input_size=self.input_size, **cfg.model_cfg)
        try:
            model.load_state_dict(state["state_dict"])
        except RuntimeError as exc:
            saved_cfg = {k: v for k, v in saved.items() if k not in ("name", "num_classes")}
            own_cfg = {k: v for k, v in model.ferkit_cfg.items() if k not in ("name", "num_classes")}
            differ = sorted(k for k in set(saved_cfg) | set(own_cfg)
                            if _plain(saved_cfg.get(k)) != _plain(own_cfg.get(k)))
            raise OptionError(
                f"init_from {path}: its {cfg.model!r} weights do not fit the model this config builds"
                + (f" (the checkpoint has {', '.join(f'{k}={saved_cfg.get(k)!r}' for k in differ)}; "
                   f"the config {', '.join(f'{k}={own_cfg.get(k)!r}' for k in differ)})" if differ else "")
                + "; use the checkpoint's model_cfg and input_size"
            ) from exc
        n_new = len(self.ds.classes)
        if n_new != n_saved:
            model.reset_classifier(n_new)
            log.info("initialised every weight from %s; new %d-class classifier (the checkpoint has %d classes)",
                     path, n_new, n_saved)
        else:
            if list(state.get("classes", [])) != list(self.ds.classes):
                log.warning("%s was trained on classes %s; this dataset has %s: the classifier is kept as it is",
                            path, state.get("classes"), list(self.ds.classes))
            log.info("initialised every weight from %s", path)
        return model

    def _partial_model_from(self, path: str | Path, state: dict[str, Any]) -> torch.nn.Module:
        """``init_partial``: the config's model, with every tensor of checkpoint ``path`` whose name and shape
        match; the others keep their fresh initialisation."""
        cfg = self.cfg
        model = self._fresh_model()
        own = model.state_dict()
        saved = state["state_dict"]
        taken = {k: v for k, v in saved.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        if not taken:
            raise OptionError(f"init_from {path}: none of its tensors fits the {cfg.model!r} model this config "
                              "builds (init_partial loads tensors of the same name and shape)")
        model.load_state_dict(taken, strict=False)
        fresh = sorted(k for k in own if k not in taken)
        log.info("initialised %d of %d tensors from %s (%s model); fresh: %s", len(taken), len(own), path,
                 state["model"]["name"], ", ".join(fresh) or "none")
        return model

    # ----------------------------------------------------------------- state
    def _resume_state(self) -> dict:
        return {
            "optimizer": self.opt.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "step_sched": self.step_sched.state_dict(),
            "plateau": self.plateau.state_dict() if self.plateau else None,
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
            "best_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "training_set": self.training_set,
        }

    @property
    def eval_model(self) -> torch.nn.Module:
        """The model validation measures and best.pt holds: the weight average when EMA is on."""
        return self.ema.module if self.ema else self.model

    def _save(self, name: str, model: torch.nn.Module | None = None, **extra) -> Path:
        return save_checkpoint(
            self.out / name,
            model or self.model,
            self.ds.classes,
            self.preprocess,
            epoch=self.epoch,
            train_config=self.cfg.to_dict(),
            dataset=self.ds.name,
            dataset_record=self.dataset_record,
            **({"distillation": self.distill_record} if self.distill_record is not None else {}),
            **self.inherited,
            **extra,
        )

    def resume(self, path: str | Path, state: dict | None = None) -> None:
        """Continue from a ``last.pt``: the model is the one the checkpoint was trained with (its
        architecture, model_cfg and input size, logged as a warning when the config names another)."""
        if state is None:  # (the constructor checks the state it passes)
            state = read_checkpoint(path)
            self._check_resume_data(state, path)
        if _plain(dict(state["model"])) != _plain(self.model.ferkit_cfg):
            self.model = self._checkpoint_model(state, path, self.model.ferkit_cfg)
            self._setup_optimisation()
        self.model.load_state_dict(state["state_dict"])
        if state.get("pruning"):
            self.inherited["pruning"] = state["pruning"]
        self.preprocess = state["preprocess"]
        self.input_size = int(self.preprocess["input_size"])
        r = state["resume"]
        saved = r.get("training_set")
        if saved is None:
            log.warning("%s records no training-set fingerprint (an older checkpoint): cannot check that the "
                        "training images (extra_train, train_limit, exclude_test_near_duplicates) are unchanged", path)
        elif saved != self.training_set and (self.distill_record is None
                                             or saved != self._training_set_fingerprint(legacy=True)):
            raise ResumeError(
                f"{path} was trained on another training set than this config gives now (extra_train data, "
                "train_limit, exclude_test_near_duplicates, the teacher or how it is run changed): resume with the "
                "run's config and data, or start a new run")
        try:
            self.opt.load_state_dict(r["optimizer"])
        except (ValueError, KeyError) as exc:
            raise ResumeError(f"{path}: its optimizer state does not fit optimizer = {self.cfg.optimizer!r} "
                              f"({exc}); resume with the run's config") from exc
        if self.ema:
            if not r.get("ema"):
                raise ResumeError(f"{path} was trained without ema_decay; resume with the same config")
            self.ema.load_state_dict(r["ema"])
        self.step_sched.load_state_dict(r["step_sched"])
        if self.plateau and r["plateau"]:
            self.plateau.load_state_dict(r["plateau"])
        self.generator.set_state(r["generator"])
        self.rng.bit_generator.state = r["rng"]
        torch.set_rng_state(r["torch_rng"])
        random.setstate(r["python_rng"])
        self.best_acc, self.best_epoch, self.bad_epochs = r["best_acc"], r["best_epoch"], r["bad_epochs"]
        self.epoch = state["epoch"]
        log.info("resumed from %s at epoch %d (best val acc %.4f)", path, self.epoch, self.best_acc)

    # ----------------------------------------------------------------- loops
    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else nullcontext()

    def _train_epoch(self) -> tuple[float, float]:
        self.model.train()
        if self.train_labels is not None:  # a training set of its own (balance = ros, smote..., extra_train)
            if self.cfg.balance == "sampler":
                order = sampler_order(self.train_labels, self.rng)
            else:
                order = self.rng.permutation(len(self.train_labels))
            images, labels = torch.from_numpy(self.train_images), torch.from_numpy(self.train_labels)
            regions = self.train_regions
        else:
            if self.cfg.balance == "sampler":
                order = self.train_idx[sampler_order(self.ds.labels[self.train_idx], self.rng)]
            else:
                order = self.rng.permutation(self.train_idx)
            images, labels = torch.from_numpy(self.ds.images), torch.from_numpy(self.ds.labels)
            regions = self.regions_all
        regions = torch.from_numpy(regions) if regions is not None else None
        soft = torch.from_numpy(self.teacher_probs) if self.teacher_probs is not None else None
        mean, std = self.preprocess["mean"], self.preprocess["std"]
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(
            range(self.steps_per_epoch),
            desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
            disable=not self.progress,
            leave=False,
            unit="batch",
        )
        for step in bar:
            idx = torch.from_numpy(order[step * self.cfg.batch_size : (step + 1) * self.cfg.batch_size])
            x, r, targets, perm, lam = self._augmented_batch(images, regions, idx)
            if targets is None and soft is not None:
                targets = soft[idx]
                if perm is not None:  # the cached teacher never saw the blend: its two answers blended alike
                    targets = lam * targets + (1 - lam) * targets[perm]
            x = ((x - mean) / std).contiguous(memory_format=self.memory_format)
            y = labels[idx]
            with self._autocast():
                logits = self._forward(self.model, x, r)
            loss = self._hard_label_loss(logits.float(), y, perm, lam)
            if targets is not None:
                alpha = self.cfg.distill_alpha
                loss = (1 - alpha) * loss + alpha * distillation_loss(logits.float(), targets,
                                                                      self.cfg.distill_temperature)
            if hasattr(self.model, "extra_losses"):  # a model's own losses (DAN), from the forward pass above
                loss = loss + sum(self.model.extra_losses(y).values())
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.step_sched.step()
            if self.ema:
                self.ema.update_parameters(self.model)
            total_loss += loss.item() * len(y)
            hits = (logits.argmax(1) == y).float()
            if perm is not None:  # a blend is right by the share of each face's label in it
                hits = lam * hits + (1 - lam) * (logits.argmax(1) == y[perm]).float()
            correct += hits.sum().item()
            seen += len(y)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        return total_loss / seen, correct / seen

    def _hard_label_loss(self, logits: torch.Tensor, y: torch.Tensor, perm: torch.Tensor | None, lam: float
                         ) -> torch.Tensor:
        """Cross-entropy with the labels (class weights, label smoothing); of a mixup batch, the blend of the
        losses against both images' labels."""
        def ce(target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits, target, weight=self.weights, label_smoothing=self.cfg.label_smoothing)

        return ce(y) if perm is None else lam * ce(y) + (1 - lam) * ce(y[perm])

    def _augmented_batch(self, images: torch.Tensor, regions: torch.Tensor | None, idx: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, float]:
        """The batch's augmented student input (unnormalised), its moved regions (region models), with an
        online teacher the teacher's probabilities for what the student sees, and with mixup the pairing
        and weight the batch was blended by (else None and 1)."""
        aug, g = self.cfg.augment, self.generator
        rb = regions[idx] if regions is not None else None
        perm, lam = None, 1.0
        if self.online_teacher is None:
            out = augment_batch(images[idx], self.input_size, aug, g, rb)
            x, r = (out[0], out[1]) if rb is not None else (out, None)
            if aug.mixup > 0:
                (x,), perm, lam = mixup([x], aug.mixup, g, self.rng)
            return x, r, None, perm, lam
        out = augment_whole_batch(images[idx], self.input_size, aug, g, rb)
        x, whole, r = out[0], out[1], (out[2] if rb is not None else None)
        if aug.mixup > 0:
            (x, whole), perm, lam = mixup([x, whole], aug.mixup, g, self.rng)
        return x, r, self.online_teacher(whole), perm, lam

    #: clean training faces that re-estimate an average's batch-norm statistics (ema_bn = "recalibrate")
    BN_FACES = 4096

    @torch.no_grad()
    def recalibrate_bn(self, model: torch.nn.Module) -> None:
        """Re-estimate ``model``'s batch-norm statistics (reset, then a cumulative average) on the first
        :attr:`BN_FACES` clean training faces, as they are seen at validation; no random draws, so a resumed
        run is unchanged."""
        if not batchnorms(model):
            return
        chosen = self.train_idx[: self.BN_FACES]
        with estimating_batchnorm(model):
            for part in batch_slices(len(chosen), 256):
                idx = chosen[part]
                x = torch.from_numpy(model_input(self.ds.images[idx], self.preprocess))
                r = None
                if self.regions_all is not None:
                    r = torch.from_numpy(region_views(self.regions_all[idx], self.preprocess)[0])
                with self._autocast():
                    self._forward(model, x.contiguous(memory_format=self.memory_format), r)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module | None = None) -> tuple[float, float, dict[str, float]]:
        """Validation loss, accuracy, and the label metrics (balanced accuracy, macro-F1)."""
        model = model or self.eval_model
        model.eval()
        total_loss, correct = 0.0, 0
        predicted = []
        for start in range(0, len(self.val_idx), 512):
            idx = self.val_idx[start : start + 512]
            x = torch.from_numpy(model_input(self.ds.images[idx], self.preprocess))
            x = x.contiguous(memory_format=self.memory_format)
            y = torch.from_numpy(self.ds.labels[idx])
            r = None
            if self.regions_all is not None:
                r = torch.from_numpy(region_views(self.regions_all[idx], self.preprocess)[0])
            with self._autocast():
                logits = self._forward(model, x, r).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            predicted.append(logits.argmax(1).numpy())
        scores = label_metrics(self.ds.labels[self.val_idx], np.concatenate(predicted), len(self.ds.classes))
        return total_loss / len(self.val_idx), correct / len(self.val_idx), scores

    def fit(self) -> TrainResult:
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        if self.balance_record is not None:
            write_record(self.out, self.balance_record)
        if self.extra_record is not None:
            write_extra_record(self.out, self.extra_record)
        if self.train_set_record is not None:
            write_train_set_record(self.out, self.train_set_record)
        if self.regions_record is not None:
            write_regions_record(self.out, self.regions_record)
        if self.distill_record is not None:
            write_distill_record(self.out, self.distill_record)
        metrics_csv = self.out / "metrics.csv"
        if self.epoch == 0 or not metrics_csv.exists():
            with metrics_csv.open("w", newline="") as fh:
                csv.writer(fh).writerow(METRIC_FIELDS)
        else:
            upgrade_metrics_csv(metrics_csv)
        log.info(
            "training %s on %s: %d train / %d val images, input %d, %d epochs, %s",
            cfg.model, self.ds.name,
            len(self.train_labels) if self.train_labels is not None else len(self.train_idx),
            len(self.val_idx), self.input_size, cfg.epochs,
            "bf16 autocast" if self.bf16 else "fp32",
        )
        interrupted = stopped = False
        try:
            while self.epoch < cfg.epochs:
                t0 = time.time()
                train_loss, train_acc = self._train_epoch()
                if self.ema and cfg.ema_bn == "recalibrate":
                    self.recalibrate_bn(self.ema.module)
                val_loss, val_acc, scores = self.validate()
                val_acc_raw = self.validate(self.model)[1] if self.ema else val_acc
                self.epoch += 1
                lr = self.opt.param_groups[0]["lr"]
                if self.plateau:
                    self.plateau.step(val_acc)
                row = [self.epoch, train_loss, train_acc, val_loss, val_acc, val_acc_raw, scores["macro_f1"],
                       scores["balanced_accuracy"], lr, time.time() - t0]
                with metrics_csv.open("a", newline="") as fh:
                    csv.writer(fh).writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
                improved = val_acc > self.best_acc
                if improved:
                    self.best_acc, self.best_epoch, self.bad_epochs = val_acc, self.epoch, 0
                    self._save("best.pt", self.eval_model, metrics={"val_acc": val_acc, "val_loss": val_loss})
                else:
                    self.bad_epochs += 1
                self._save("last.pt", resume=self._resume_state())
                plot_curves(metrics_csv, self.out / "curves.png")
                log.info(
                    "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f%s%s  lr %.4g  %.0fs",
                    self.epoch, cfg.epochs, train_loss, train_acc, val_loss, val_acc,
                    f" (live weights {val_acc_raw:.4f})" if self.ema else "",
                    " *" if improved else "", lr, time.time() - t0,
                )
                if cfg.early_stopping and self.bad_epochs >= cfg.early_stopping:
                    log.info("early stopping: no improvement for %d epochs", self.bad_epochs)
                    stopped = True
                    break
        except KeyboardInterrupt:
            interrupted = True
            self._save("last.pt", resume=self._resume_state(), interrupted=True)
            log.warning("interrupted: saved %s; continue with --resume", self.out / "last.pt")
        return TrainResult(
            out=self.out,
            best_checkpoint=self.out / "best.pt",
            best_val_acc=self.best_acc,
            best_epoch=self.best_epoch,
            epochs_run=self.epoch,
            interrupted=interrupted,
            stopped_early=stopped,
        )


def run_files(out: str | Path) -> list[Path]:
    """The files of an earlier (finished or partial) run in ``out``."""
    out = Path(out)
    return [out / name for name in RUN_MARKERS if (out / name).exists()]


def check_out(out: str | Path, resume: str | Path | None = None, overwrite: bool = False) -> None:
    """Refuse an output folder that holds an earlier run (last.pt, best.pt or metrics.csv) unless the
    run is resumed or ``overwrite``; and one that is a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file; --out must be a folder")
    check_folder_writable(out)  # a read-only place, a parent that is a file: before any work
    if resume is not None and overwrite:
        raise OptionError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    if resume is not None and not Path(resume).is_file():
        raise MissingInputError(f"{resume}: no such checkpoint to resume from")
    found = run_files(out)
    if found and resume is None and not overwrite:
        raise OutputExistsError(
            f"{out} already holds a training run ({', '.join(p.name for p in found)}); "
            f"continue it with --resume {out / 'last.pt'}, replace it with --overwrite, or use another --out"
        )


def _remove_run(out: Path) -> None:
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def train(cfg: TrainConfig, resume: str | Path | None = None, dataset: FaceDataset | None = None,
          progress: bool | None = None, overwrite: bool = False) -> TrainResult:
    """Train a model as ``cfg`` says; with ``resume``, continue from a ``last.pt`` (rebuilding the model
    that checkpoint was trained with).

    Refuses to start over a previous run in ``cfg.out`` (its last.pt, best.pt or metrics.csv) unless
    resuming or ``overwrite``; ``overwrite`` removes that run's files (only those) once the data is loaded."""
    out = Path(cfg.out)
    check_out(out, resume, overwrite)
    trainer = Trainer(cfg, dataset=dataset, progress=progress, resume=resume)
    if resume is None and overwrite and run_files(out):
        log.warning("--overwrite: removing the earlier run in %s", out)
        _remove_run(out)
    return trainer.fit()


def _plain(value: Any) -> Any:
    """The value as JSON would store it (tuples as lists, NumPy numbers as Python ones, keys as
    strings), for comparisons: configs from TOML have lists, from Python tuples."""
    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, (set, frozenset)):
            return sorted(o, key=str)
        return str(o)

    return json.loads(json.dumps(value, default=default, sort_keys=True))


def dataset_record(ds: FaceDataset, path: str | Path | None = None) -> dict[str, Any]:
    """What a checkpoint records of the data it was trained on: name, path, image count and a cheap
    content fingerprint (labels, split, image shape and up to 256 evenly spaced images)."""
    h = hashlib.sha1()
    h.update(repr((ds.images.shape, list(ds.classes))).encode())
    h.update(np.ascontiguousarray(ds.labels).tobytes())
    if ds.split is not None:
        h.update("|".join(map(str, ds.split.tolist())).encode())
    n = len(ds)
    if n:
        pick = np.unique(np.linspace(0, n - 1, min(n, 256)).astype(np.int64))
        h.update(np.ascontiguousarray(ds.images[pick]).tobytes())
    return {"name": ds.name, "path": str(path) if path else None, "n": n, "fingerprint": h.hexdigest()[:16]}
