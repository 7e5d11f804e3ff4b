"""Structured channel pruning that really removes channels (Torch-Pruning's dependency graph: every layer that
shares a pruned channel is cut with it), then fine-tuning, with parameters, MACs, faces/s and validation accuracy
before pruning, after it, and after fine-tuning.

``pip install ferkit[compress]`` (torch-pruning). The pruned model's layers no longer follow its registered
builder, so its checkpoints also store its structure (``ferkit.models.checkpoint``); ``evaluate``, ``export``,
``analyze`` and further training take them like any other."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ferkit.core.errors import OptionError
from ferkit.core.options import check_float, check_int
from ferkit.evaluate.evaluator import evaluate
from ferkit.models import count_macs, count_parameters
from ferkit.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, update_checkpoint
from ferkit.train.config import TrainConfig, apply_overrides
from ferkit.train.trainer import train

log = logging.getLogger("ferkit.train")

REPORT_NAME = "prune_report.json"


def prune_model(model: torch.nn.Module, ratio: float, input_size: int, in_chans: int = 1,
                round_to: int | None = None) -> torch.nn.Module:
    """Remove ``ratio`` of the channels of every prunable layer group (L2 magnitude of the group), the final
    classifier's outputs kept; in place, and returned. ``round_to``: the channels each group keeps are rounded
    down to a multiple of it (CPU kernels run channel counts such as 29 or 117 far slower than 24 or 112)."""
    check_int("prune", "round_to", round_to, lo=1, optional=True)
    try:
        import torch_pruning as tp
    except ImportError as exc:
        raise OptionError("pruning needs Torch-Pruning: pip install ferkit[compress]") from exc
    model.eval()
    # at ratio 0 too: the dependency graph is traced and the step runs, removing nothing (what the tests check)
    pruner = tp.pruner.MetaPruner(model, torch.zeros(1, in_chans, input_size, input_size),
                                  importance=tp.importance.GroupMagnitudeImportance(p=2), pruning_ratio=ratio,
                                  ignored_layers=[model.get_classifier()], round_to=round_to)
    pruner.step()
    for tensor in [*model.parameters(), *model.buffers()]:  # slices of the old tensors: make them dense
        tensor.data = tensor.data.contiguous()
    model.ferkit_cfg = {**model.ferkit_cfg, "pruned": True, "pruning_ratio": ratio}
    if round_to:
        model.ferkit_cfg["pruning_round_to"] = round_to
    return model


def onnx_faces_per_second(checkpoint: Path, seconds: float) -> float:
    """Faces/s of the checkpoint exported to ONNX, in ONNX Runtime (what ``analyze`` runs), batches of 64,
    preprocessing included: the same measure for every stage, whatever memory layout PyTorch left."""
    import tempfile

    from ferkit.export.onnx import export_onnx
    from ferkit.infer.classifier import EmotionClassifier

    with tempfile.TemporaryDirectory() as tmp:
        clf = EmotionClassifier(export_onnx(checkpoint, Path(tmp) / "m.onnx"), threads=2)
        faces = np.random.default_rng(0).integers(0, 256, (64, clf.image_size, clf.image_size), dtype=np.uint8)
        clf.predict_proba(faces, batch_size=64)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            clf.predict_proba(faces, batch_size=64)
            n += 64
        return n / (time.perf_counter() - start)


def measure(model: torch.nn.Module, input_size: int, checkpoint: Path, data: str | Path | None,
            seconds: float) -> dict[str, Any]:
    out = {"parameters": count_parameters(model), "macs": count_macs(model, input_size),
           "faces_per_second": round(onnx_faces_per_second(checkpoint, seconds), 1)}
    if data is not None:
        out["val_accuracy"] = evaluate(checkpoint, data, split="val")["accuracy"]
    return out


def prune_checkpoint(checkpoint: str | Path, out: str | Path, ratio: float, finetune_epochs: int = 0,
                     data: str | Path | None = None, overrides: list[str] | None = None, progress: bool | None = None,
                     seconds: float = 2.0, overwrite: bool = False, round_to: int | None = None) -> dict[str, Any]:
    """Prune ``checkpoint`` into ``out/pruned.pt``; with ``finetune_epochs``, fine-tune it on ``data`` (the
    original run's training config, then ``overrides``) into ``out/finetune/``. Returns (and writes to
    ``out/prune_report.json``) the measurements of each stage. ``round_to``: see :func:`prune_model`."""
    check_float("prune", "ratio", ratio, lo=0.0, hi=0.95)
    check_int("prune", "round_to", round_to, lo=1, optional=True)
    check_int("prune", "finetune_epochs", finetune_epochs, lo=0)
    if finetune_epochs and data is None:
        raise OptionError("fine-tuning needs the training data: give --data")
    out = Path(out)
    report_path, pruned_path = out / REPORT_NAME, out / "pruned.pt"
    for path in (report_path, pruned_path):
        if path.exists() and not overwrite:
            from ferkit.core.errors import OutputExistsError

            raise OutputExistsError(f"{path} exists; use --overwrite or another --out")
    state = read_checkpoint(checkpoint)
    model, _ = load_checkpoint(checkpoint)
    size = int(state["preprocess"]["input_size"])
    report: dict[str, Any] = {"checkpoint": str(checkpoint), "ratio": ratio, "method": "torch-pruning MetaPruner, "
                              "group L2 magnitude, classifier outputs kept", "round_to": round_to,
                              "finetune_epochs": finetune_epochs}
    report["before"] = measure(model, size, Path(checkpoint), data, seconds)
    prune_model(model, ratio, size, int(model.ferkit_cfg.get("in_chans", 1)), round_to)
    extra = {k: state[k] for k in ("epoch", "dataset", "dataset_record", "train_config") if k in state}
    save_checkpoint(pruned_path, model, state["classes"], state["preprocess"], pruning=report, **extra)
    # measured as saved and loaded (contiguous weights), as every later use will see it
    report["pruned"] = measure(load_checkpoint(pruned_path)[0], size, pruned_path, data, seconds)
    save_checkpoint(pruned_path, model, state["classes"], state["preprocess"], pruning=report, **extra)
    log.info("pruned %s: %d -> %d parameters, %.1fM -> %.1fM MACs", checkpoint, report["before"]["parameters"],
             report["pruned"]["parameters"], report["before"]["macs"] / 1e6, report["pruned"]["macs"] / 1e6)
    if finetune_epochs:
        base = dict(state.get("train_config") or {})
        base.update(data=str(data), out=str(out / "finetune"), init_from=str(pruned_path), epochs=finetune_epochs,
                    model=state["model"]["name"], input_size=size, image_size=int(state["preprocess"]["image_size"]),
                    warmup_epochs=min(1.0, float(base.get("warmup_epochs", 1.0))),
                    # an average of the weights would start from the freshly pruned ones and lag far behind a
                    # short fine-tuning: off unless asked for (--set ema_decay=...)
                    ema_decay=0.0)
        base["model_cfg"] = {k: v for k, v in state["model"].items()
                             if k not in ("name", "num_classes", "in_chans", "input_size", "pruned", "pruning_ratio",
                                          "pruning_round_to")}
        cfg = TrainConfig.from_dict(apply_overrides(base, overrides or []))
        result = train(cfg, progress=progress, overwrite=overwrite)
        finetuned, _ = load_checkpoint(result.best_checkpoint)
        report["finetuned"] = measure(finetuned, size, result.best_checkpoint, data, seconds)
        report["finetuned_checkpoint"] = str(result.best_checkpoint)
        update_checkpoint(result.best_checkpoint, pruning=report)  # its card then shows every stage
    out.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2))
    return report
