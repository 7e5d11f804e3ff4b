"""Weight averaging ("model soups", Wortsman et al. 2022): several checkpoints of one architecture fine-tuned
from the same weights averaged into one model, which runs at the cost of one model.

The *uniform* soup averages every ingredient. The *greedy* soup ranks the ingredients by their own accuracy on
the validation split, starts from the best and adds each next one only if the average's validation accuracy
does not drop; it is never worse on that split than the best ingredient measured the same way (with its
batch-norm statistics re-estimated too, by default) (which, for FER2013, is PublicTest:
the split that selects, never the one that is reported). Batch-norm statistics are either averaged like the
weights or re-estimated on clean training faces for every average (``bn="recalibrate"``, as SWA does), since an
average of weights does not see the average of their activations' statistics.

Averages only make sense for ingredients in one basin (fine-tuned from one checkpoint, or checkpoints of one
run); unrelated models average to noise, which the greedy soup then leaves out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ferkit.core.errors import InputError, OptionError
from ferkit.core.options import check_choice, check_int
from ferkit.core.outputs import check_writable
from ferkit.core.preprocess import model_input
from ferkit.data.load import load_dataset
from ferkit.evaluate.evaluator import evaluate
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models.batchnorm import batch_slices, batchnorms, estimating_batchnorm
from ferkit.models.checkpoint import WEIGHT_RECORDS, read_checkpoint, save_checkpoint

log = logging.getLogger("ferkit.train")

METHODS = ("greedy", "uniform")
BN_MODES = ("recalibrate", "average")
#: what must be equal in every ingredient's checkpoint for their weights to be averaged
SAME = ("model", "classes", "preprocess")
#: the split a soup is chosen on: FER2013 PublicTest, never the test split
SPLIT = "val"


def check_ingredients(paths: list[str | Path]) -> list[dict[str, Any]]:
    """The ingredients' checkpoints, read, after checking that they can be averaged: two or more, each a ferkit
    checkpoint of the same model (architecture and options), classes and preprocessing, with the same tensors."""
    if len(paths) < 2:
        raise OptionError(f"a soup needs two or more checkpoints, got {len(paths)}")
    if len({Path(p).resolve() for p in paths}) != len(paths):
        raise OptionError("a checkpoint is given twice: give each ingredient once")
    states = []
    for p in paths:
        if Path(p).suffix == ".onnx":
            raise InputError(f"{p}: an ONNX model; a soup averages PyTorch checkpoints (.pt), as `ferkit train` "
                             "writes them")
        states.append(read_checkpoint(p))
    first = states[0]
    for p, s in zip(paths[1:], states[1:]):
        for key in SAME:
            if s[key] != first[key]:
                raise InputError(f"{p}: its {key} ({s[key]}) differs from {paths[0]}'s ({first[key]}); a soup "
                                 "averages checkpoints of one architecture")
        shapes = {k: tuple(v.shape) for k, v in s["state_dict"].items()}
        if shapes != {k: tuple(v.shape) for k, v in first["state_dict"].items()}:
            raise InputError(f"{p}: its tensors differ from {paths[0]}'s in names or shapes")
    return states


def average_weights(state_dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point tensors (weights, biases, batch-norm statistics); integer
    tensors (batch-norm's ``num_batches_tracked``) are taken from the first."""
    out = {}
    for key, first in state_dicts[0].items():
        if first.is_floating_point():
            out[key] = torch.stack([sd[key].float() for sd in state_dicts]).mean(0).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, faces: np.ndarray, preprocess: dict,
                          batch_size: int = 256) -> None:
    """Re-estimate ``model``'s batch-norm statistics (reset, then a cumulative average over the batches) on
    ``faces`` seen as at validation (the centre crop, no augmentation); dropout stays off. In place."""
    if not batchnorms(model):
        return
    with estimating_batchnorm(model):
        for part in batch_slices(len(faces), batch_size):
            model(torch.from_numpy(model_input(faces[part], preprocess)))


class ValidationJudge:
    """Loads a state into one model and gives its accuracy on the validation split (``evaluate``'s metrics,
    in fp32 PyTorch), with batch-norm statistics re-estimated first when asked (``bn="recalibrate"``) on a fixed
    sample of ``bn_faces`` clean training faces."""

    def __init__(self, first: str | Path, data: str | Path, bn: str, bn_faces: int):
        self.bn = check_choice("judge", "bn", bn, BN_MODES)
        self.clf = EmotionClassifier(first)
        if bn == "recalibrate" and self.clf.takes_regions:
            raise OptionError("re-estimating batch-norm statistics is not supported for the region model (it needs "
                              "landmarks of every training face); `ferkit soup --bn average` averages them instead")
        self.ds = load_dataset(data, size=self.clf.image_size, progress=False)
        size = self.clf.image_size
        if self.ds.image_size != (size, size):
            raise InputError(f"{data}: images are {self.ds.image_size[0]}x{self.ds.image_size[1]}, the model "
                             f"expects {size}x{size} faces")
        if not self.ds.has_official_split or len(self.ds.select_split(SPLIT)) == 0:
            raise InputError(f"{data}: no validation split to measure on (FER2013's PublicTest, a usage column or a "
                             "val folder); the test split is never used to choose")
        self.bn_images = None
        if bn == "recalibrate":
            train = self.ds.select_split("train")
            if len(train) < 2:
                raise InputError(f"{data}: {len(train)} training images; re-estimating batch-norm statistics needs "
                                 "two or more")
            pick = np.random.default_rng(0).permutation(len(train))[:bn_faces]
            self.bn_images = train.images[np.sort(pick)]

    def load(self, weights: dict[str, torch.Tensor], recalibrate: bool | None = None) -> torch.nn.Module:
        """The model with ``weights``; its batch-norm statistics re-estimated if ``recalibrate`` (default: as
        the judge's ``bn`` says)."""
        model = self.clf.model
        model.load_state_dict(weights)
        if recalibrate is None:
            recalibrate = self.bn == "recalibrate"
        if recalibrate:
            if self.bn_images is None:
                raise OptionError("this judge averages batch-norm statistics (bn='average'); make it with "
                                  "bn='recalibrate' to re-estimate them")
            recalibrate_batchnorm(model, self.bn_images, self.clf.preprocess)
        model.eval()
        return model

    def accuracy(self, weights: dict[str, torch.Tensor], recalibrate: bool | None = None) -> float:
        self.load(weights, recalibrate)
        return float(evaluate(self.clf, self.ds, split=SPLIT)["accuracy"])


def make_soup(checkpoints: list[str | Path], out: str | Path, data: str | Path, method: str = "greedy",
              bn: str = "recalibrate", bn_faces: int = 4096,
              overwrite: bool = False) -> dict[str, Any]:
    """Average ``checkpoints`` into the checkpoint ``out`` (with a ``soup`` record: method, ingredients and
    their accuracies, the greedy trace) and return that record. ``data``: the dataset whose validation split
    (FER2013 PublicTest; never the test split) ranks and chooses, and whose training faces (``bn_faces`` of
    them, a fixed sample) re-estimate batch-norm statistics. The written checkpoint trains, exports and
    evaluates like any other."""
    check_choice("soup", "method", method, METHODS)
    check_choice("soup", "bn", bn, BN_MODES)
    check_int("soup", "bn_faces", bn_faces, lo=2)  # batch statistics need two faces at least
    out = Path(out)
    if out.suffix != ".pt":
        raise OptionError(f"--out {out}: the soup is a checkpoint; give a .pt path")
    if out.resolve() in {Path(c).resolve() for c in checkpoints}:
        raise OptionError(f"--out {out} is one of the ingredients; a soup never overwrites them")
    check_writable(out, overwrite=overwrite)
    states = check_ingredients(checkpoints)
    judge = ValidationJudge(checkpoints[0], data, bn, bn_faces)
    names = [str(c) for c in checkpoints]
    own = []
    for name, s in zip(names, states):
        own.append(judge.accuracy(s["state_dict"]))
        log.info("ingredient %s: %s accuracy %.4f", name, SPLIT, own[-1])
    record: dict[str, Any] = {"method": method, "bn": bn, "split": SPLIT, "dataset": str(data),
                              "ingredients": [{"checkpoint": n, "epoch": s.get("epoch"), "accuracy": a}
                                              for n, s, a in zip(names, states, own)]}
    if method == "uniform":
        chosen = list(range(len(states)))
        accuracy = judge.accuracy(average_weights([s["state_dict"] for s in states]))
    else:
        order = sorted(range(len(states)), key=lambda i: -own[i])
        chosen, accuracy, trace = [order[0]], own[order[0]], []
        for i in order[1:]:
            trial = judge.accuracy(average_weights([states[j]["state_dict"] for j in [*chosen, i]]))
            kept = trial >= accuracy
            trace.append({"checkpoint": names[i], "accuracy_with_it": trial, "kept": kept})
            log.info("greedy soup: %s %s (%.4f with it, %.4f without)", names[i], "kept" if kept else "left out",
                     trial, accuracy)
            if kept:
                chosen, accuracy = [*chosen, i], trial
        record["trace"] = trace
    record["chosen"] = [names[i] for i in chosen]
    record["accuracy"] = accuracy
    model = judge.load(average_weights([states[i]["state_dict"] for i in chosen]))
    first = states[chosen[0]]
    extra = {k: first[k] for k in WEIGHT_RECORDS if k in first}
    save_checkpoint(out, model, first["classes"], first["preprocess"], soup=record, **extra)
    log.info("wrote %s: %d of %d ingredients, %s accuracy %.4f", out, len(chosen), len(states), SPLIT, accuracy)
    return record
