"""Export a checkpoint to ONNX with a dynamic batch axis and ferkit's metadata (classes, preprocessing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ferkit.core.errors import MissingInputError, OptionError, OutputExistsError
from ferkit.core.outputs import check_writable
from ferkit.core.regions import DEFAULT_REGIONS
from ferkit.infer.classifier import METADATA_KEY
from ferkit.models.checkpoint import load_checkpoint

#: the lowest opset ferkit exports to (older ones lack operators the models use)
MIN_OPSET = 9


def opset_range() -> tuple[int, int]:
    """The ONNX opsets this PyTorch's (TorchScript) exporter writes, lowest and highest."""
    try:
        from torch.onnx import _constants

        lo = max(MIN_OPSET, int(_constants.ONNX_MIN_OPSET))
        hi = int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", _constants.ONNX_MAX_OPSET))
    except (ImportError, AttributeError):
        lo, hi = MIN_OPSET, 20
    return lo, hi


def check_export(checkpoint: str | Path, out: str | Path, opset: int = 17, overwrite: bool = False) -> Path:
    """Check before any work, creating nothing, that ``checkpoint`` can be exported to ``out``: an
    existing checkpoint, an ``.onnx`` output that is not the checkpoint, not a folder, not existing
    (unless ``overwrite``) and in a writable place, and an opset this PyTorch exports."""
    out = Path(out)
    if not Path(checkpoint).exists():
        raise MissingInputError(f"{checkpoint}: no such checkpoint")
    if out.resolve() == Path(checkpoint).resolve():
        raise OutputExistsError(f"{out}: is the checkpoint being exported; an output never replaces an input "
                                "(give another --out, ending in .onnx)")
    if out.suffix.lower() != ".onnx":
        raise OptionError(f"the output must be an .onnx file, got {str(out)!r}")
    lo, hi = opset_range()
    if isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi:
        raise OptionError(f"opset must be a whole number in {lo}..{hi} (what this PyTorch {torch.__version__} "
                          f"exports), got {opset!r}")
    check_writable(out, overwrite=overwrite, inputs=[checkpoint])
    return out


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = 17, overwrite: bool = False) -> Path:
    """Export ``checkpoint`` to the ONNX file ``out`` (checked first: :func:`check_export`)."""
    out = check_export(checkpoint, out, opset=opset, overwrite=overwrite)
    model, state = load_checkpoint(checkpoint)
    model = model.to(memory_format=torch.contiguous_format).float().eval()
    s = state["preprocess"]["input_size"]
    inputs = model_inputs(model, torch.zeros(1, model.ferkit_cfg["in_chans"], s, s))
    names = list(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if "regions" in inputs and opset < 16:
        raise OptionError(f"the region model crops its regions with GridSample, which needs opset 16 or later; "
                          f"got --opset {opset}")
    torch.onnx.export(
        model,
        tuple(inputs.values()),
        str(tmp),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**{name: {0: "batch"} for name in names}, "logits": {0: "batch"}},
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
        "inputs": names,
    }
    meta = proto.metadata_props.add()
    meta.key, meta.value = METADATA_KEY, json.dumps(info)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out


def model_inputs(model: torch.nn.Module, faces: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The named inputs of ``model``: ``faces``, and for the region model ``regions`` (jittered
    around the fixed-ratio boxes)."""
    inputs = {"faces": faces}
    if getattr(model, "takes_regions", False):
        g = torch.Generator().manual_seed(seed)
        base = torch.tensor(DEFAULT_REGIONS, dtype=torch.float32)
        inputs["regions"] = base + 0.05 * torch.randn((len(faces), *base.shape), generator=g)
    return inputs


def max_abs_difference(checkpoint: str | Path, onnx_path: str | Path, n: int = 16, seed: int = 0) -> float:
    """Largest absolute logit difference between PyTorch and ONNX Runtime on random faces (and random
    regions for the region model)."""
    model, state = load_checkpoint(checkpoint)
    s = state["preprocess"]["input_size"]
    x = np.random.default_rng(seed).standard_normal((n, 1, s, s)).astype(np.float32)
    inputs = model_inputs(model, torch.from_numpy(x), seed)
    with torch.no_grad():
        ref = model(*inputs.values()).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: inputs[i.name].numpy() for i in sess.get_inputs()})[0]
    return float(np.abs(ref - got).max())


def onnx_macs(path: str | Path) -> int:
    """Multiply-accumulates of one face through an ONNX model, counted from its graph (Conv, Gemm and
    MatMul nodes with shapes inferred at batch 1), so it works for any model ferkit loads: exported,
    pruned, quantized (weights behind DequantizeLinear) or an ensemble."""
    import math

    model = onnx.load(str(path))
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if len(dims) and not dims[0].dim_value:
            dims[0].dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*graph.input, *graph.value_info, *graph.output]}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    for node in graph.node:  # quantized weights: the dequantized tensor has the stored one's shape
        if node.op_type == "DequantizeLinear" and node.input[0] in shapes and node.output[0] not in shapes:
            shapes[node.output[0]] = shapes[node.input[0]]
    total = 0
    for node in graph.node:
        out = shapes.get(node.output[0])
        if not out or 0 in out:
            continue
        if node.op_type in ("Conv", "QLinearConv"):
            weight = shapes.get(node.input[3 if node.op_type == "QLinearConv" else 1])
            if weight:
                total += math.prod(out[1:]) * math.prod(weight[1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0])
            if a:
                total += math.prod(out) * a[-1]
    return int(total)


def onnx_parameters(path: str | Path) -> int:
    """Learned numbers in an ONNX model, counted from its initializers: weight tensors of any precision and
    bias vectors (float, or int32 once quantized), an ensemble's member weights; left out are quantization
    scales and zero points, scalars (a normalisation's mean and std) and integer shape vectors. Batch
    normalisation folded into the convolutions on export is not counted apart, so an fp32 model and its int8
    version give one figure."""
    graph = onnx.load(str(path)).graph
    quant = {name for node in graph.node if node.op_type in ("QuantizeLinear", "DequantizeLinear")
             for name in node.input[1:]}
    vectors = (onnx.TensorProto.FLOAT, onnx.TensorProto.INT32)
    return int(sum(np.prod(t.dims) for t in graph.initializer if t.name not in quant and
                   (len(t.dims) > 1 or (len(t.dims) == 1 and t.data_type in vectors))))
