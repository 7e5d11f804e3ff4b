"""Re-estimating one checkpoint's batch-norm statistics on clean training faces.

A model trained with a weight average (``ema_decay``) keeps batch-norm statistics averaged like its weights,
and statistics gathered on augmented batches; neither is what the averaged weights produce on clean faces.
Re-estimating them (reset, then a cumulative average over a fixed sample of clean training faces, as SWA does)
can gain accuracy at no cost at inference, but not always. The validation accuracy (FER2013 PublicTest) before and
after is measured and recorded, so the user keeps whichever is better; the test split is never used."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ferkit.compress.soup import SPLIT, ValidationJudge
from ferkit.core.errors import InputError, OptionError, OutputExistsError
from ferkit.core.options import check_int
from ferkit.core.outputs import check_writable
from ferkit.models.batchnorm import batchnorms
from ferkit.models.checkpoint import WEIGHT_RECORDS, read_checkpoint, save_checkpoint

log = logging.getLogger("ferkit.train")


def recalibrate_checkpoint(checkpoint: str | Path, out: str | Path, data: str | Path, bn_faces: int = 4096,
                           overwrite: bool = False) -> dict[str, Any]:
    """Write ``out``: ``checkpoint`` with its batch-norm statistics re-estimated on ``bn_faces`` clean training
    faces of ``data`` (a fixed sample), and a ``recalibration`` record with the validation accuracy before and
    after. Returns that record. The checkpoint itself is never changed; the records of how its weights were made
    (training, distillation, pruning, soup, epoch) are carried on, and a checkpoint re-estimated before keeps
    that record under ``previous``."""
    check_int("recalibrate", "bn_faces", bn_faces, lo=2)  # batch statistics need two faces at least
    out = Path(out)
    if Path(checkpoint).suffix.lower() == ".onnx":
        raise InputError(f"{checkpoint}: an ONNX model, whose batch normalisation is folded into its convolutions; "
                         "give the PyTorch checkpoint (.pt) it was exported from")
    if out.suffix != ".pt":
        raise OptionError(f"--out {out}: the result is a checkpoint; give a .pt path")
    if out.resolve() == Path(checkpoint).resolve():
        raise OutputExistsError(f"--out {out} is the checkpoint itself; it is never overwritten")
    check_writable(out, overwrite=overwrite, inputs=[data])
    state = read_checkpoint(checkpoint)
    judge = ValidationJudge(checkpoint, data, "recalibrate", bn_faces)
    if not batchnorms(judge.clf.model):
        raise InputError(f"{checkpoint}: its model ({state['model'].get('name')}) has no batch normalisation; "
                         "there are no statistics to re-estimate")
    before = judge.accuracy(state["state_dict"], recalibrate=False)
    after = judge.accuracy(state["state_dict"], recalibrate=True)
    record = {"checkpoint": str(checkpoint), "dataset": str(data), "faces": len(judge.bn_images),
              "split": SPLIT, "accuracy_before": before, "accuracy_after": after}
    if state.get("recalibration"):
        record["previous"] = state["recalibration"]
    extra = {k: state[k] for k in (*WEIGHT_RECORDS, "epoch", "soup") if k in state}
    save_checkpoint(out, judge.clf.model, state["classes"], state["preprocess"], recalibration=record, **extra)
    log.info("wrote %s: batch-norm statistics re-estimated on %d training faces; %s accuracy %.4f -> %.4f",
             out, record["faces"], SPLIT, before, after)
    return record
