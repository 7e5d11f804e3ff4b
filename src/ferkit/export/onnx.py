"""Export a checkpoint to ONNX with a dynamic batch axis and ferkit's metadata (classes, preprocessing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ferkit.infer.classifier import METADATA_KEY
from ferkit.models.checkpoint import load_checkpoint


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = 17, overwrite: bool = False) -> Path:
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    model, state = load_checkpoint(checkpoint)
    model = model.to(memory_format=torch.contiguous_format).float().eval()
    s = state["preprocess"]["input_size"]
    dummy = torch.zeros(1, model.ferkit_cfg["in_chans"], s, s)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.onnx.export(
        model,
        (dummy,),
        str(tmp),
        input_names=["faces"],
        output_names=["logits"],
        dynamic_axes={"faces": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    info = {
        "classes": list(state["classes"]),
        "preprocess": state["preprocess"],
        "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in state["model"].items()},
        "epoch": state.get("epoch"),
        "dataset": state.get("dataset"),
    }
    meta = proto.metadata_props.add()
    meta.key, meta.value = METADATA_KEY, json.dumps(info)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out


def max_abs_difference(checkpoint: str | Path, onnx_path: str | Path, n: int = 16, seed: int = 0) -> float:
    """Largest absolute logit difference between PyTorch and ONNX Runtime on random faces."""
    model, state = load_checkpoint(checkpoint)
    s = state["preprocess"]["input_size"]
    x = np.random.default_rng(seed).standard_normal((n, 1, s, s)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return float(np.abs(ref - got).max())
