"""Checkpoints that carry everything needed to rebuild a model and its preprocessing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.preprocess import check_preprocess
from ferkit.models.registry import create

#: a checkpoint's records of how its weights were made (data, training recipe, teacher, pruning), which a model
#: made from its weights without training (a soup, re-estimated batch-norm statistics) carries on
WEIGHT_RECORDS = ("dataset", "dataset_record", "train_config", "distillation", "pruning")

FORMAT = "ferkit-checkpoint-v1"


def save_checkpoint(path: str | Path, model: nn.Module, classes, preprocess: dict, **extra: Any) -> Path:
    """Write atomically (temp file then rename), so an interrupted save never corrupts a checkpoint.

    A model whose layers no longer follow its registered builder (channels removed by structured pruning:
    ``model.ferkit_cfg["pruned"]``) is also stored whole (``structure``: the module, pickled), since its
    options alone cannot rebuild it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if model.ferkit_cfg.get("pruned"):
        extra = {**extra, "structure": model}
    state = {
        "format": FORMAT,
        "model": dict(model.ferkit_cfg),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "classes": list(classes),
        "preprocess": check_preprocess(dict(preprocess)),
        **extra,
    }
    return _write(state, path)


def update_checkpoint(path: str | Path, **records: Any) -> Path:
    """Add or replace top-level records of a checkpoint (its weights and model untouched), atomically."""
    state = read_checkpoint(path)
    state.update(records)
    return _write(state, Path(path))


def _write(state: dict[str, Any], path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise InputError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: not a ferkit checkpoint")
    if not isinstance(state.get("model"), dict) or "name" not in state["model"] or "state_dict" not in state:
        raise InputError(f"{path}: a damaged ferkit checkpoint (no model description or weights)")
    return state


def model_from_state(state: dict[str, Any]) -> nn.Module:
    """The model a checkpoint describes, its weights not loaded yet: built from the registry with the saved
    options, or (a pruned model) the stored structure."""
    structure = state.get("structure")
    if structure is not None:
        import copy

        model = copy.deepcopy(structure)
        for tensor in [*model.parameters(), *model.buffers()]:  # dense, whatever layout the structure was saved in
            tensor.data = tensor.data.contiguous()
        model.ferkit_cfg = dict(state["model"])
        return model
    cfg = dict(state["model"])
    cfg.pop("pruned", None)
    return create(cfg.pop("name"), **cfg)


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode and the checkpoint dict (classes, preprocess, metrics, config...)."""
    state = read_checkpoint(path)
    model = model_from_state(state)
    model.load_state_dict(state["state_dict"])
    model.eval()
    return model, state
