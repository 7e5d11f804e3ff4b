"""Ensembles: several ONNX models whose class probabilities are averaged (optionally weighted) in one
ONNX graph that carries ferkit's metadata, so every command takes it like any other model.

The ensemble's input is the whole ``image_size`` face scaled to [0, 1] (its preprocessing is
``input_size = image_size``, ``mean = 0``, ``std = 1``); inside the graph each member gets its own
centre crop and normalisation, then its softmax. The first output, ``logits``, is the log of the
weighted mean probability (so a softmax of it gives the ensemble's probabilities back); the second,
``member_probs`` (N, members, classes), is each member's probabilities, which ``evaluate`` reports
one by one. Members must share their classes (same names, same order) and face size; members of
other input crops, normalisations and opsets are handled in the graph."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper, version_converter

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.model_compat import check_combinable
from ferkit.core.outputs import check_writable
from ferkit.export.quantize import quantization_record
from ferkit.infer.classifier import MEMBER_OUTPUT, METADATA_KEY

INPUT, OUTPUT = "faces", "logits"


def read_member(path: str | Path) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """An ONNX model file and its ferkit metadata; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: no such model file")
    if path.suffix.lower() != ".onnx":
        raise InputError(f"{path}: ensemble members are ONNX models; export a checkpoint first "
                         f"(ferkit export {path} --out {path.stem}.onnx)")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise InputError(f"{path}: not a readable ONNX model ({exc})") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise InputError(f"{path}: ONNX model has no ferkit metadata (export it with `ferkit export`)")
    if any(i.name == "regions" for i in proto.graph.input):
        raise InputError(f"{path}: a region model (it takes face regions as a second input) cannot be an ensemble "
                         "member yet; ensemble whole-face models")
    return proto, json.loads(meta[METADATA_KEY])


def is_ensemble(path: str | Path) -> bool:
    """Whether ``path`` is a readable ensemble written by :func:`make_ensemble`."""
    try:
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        return json.loads(meta.get(METADATA_KEY, "{}")).get("model", {}).get("name") == "ensemble"
    except Exception:  # noqa: BLE001 -- missing, damaged or foreign files are no ensembles; loading them says why
        return False


def parse_weights(weights: str | list[float] | None, n: int) -> list[float]:
    """Member weights normalised to sum to 1 (None: equal), from a list or ``"w1,w2,..."``."""
    if weights is None:
        return [1.0 / n] * n
    if isinstance(weights, str):
        try:
            weights = [float(w) for w in weights.split(",")]
        except ValueError:
            raise OptionError(f"--weights must be numbers separated by commas, got {weights!r}") from None
    values = [float(w) for w in weights]
    if len(values) != n:
        raise OptionError(f"{len(values)} weights for {n} members: give one weight per member")
    if any(not np.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise OptionError(f"weights must be non-negative numbers with a positive sum, got {values}")
    total = sum(values)
    return [w / total for w in values]


def _opset(proto: onnx.ModelProto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _check_members(infos: list[dict], paths: list[Path]) -> None:
    check_combinable(paths, [i["classes"] for i in infos], [i["preprocess"]["image_size"] for i in infos])


def _member_nodes(i: int, info: dict, image_size: int, input_name: str) -> tuple[list, list]:
    """Nodes and initializers turning the ensemble input into member ``i``'s input tensor."""
    pre = info["preprocess"]
    s = int(pre["input_size"])
    top = (image_size - s) // 2
    p = f"m{i}_pre_"
    inits = [
        numpy_helper.from_array(np.array([top, top], dtype=np.int64), p + "starts"),
        numpy_helper.from_array(np.array([top + s, top + s], dtype=np.int64), p + "ends"),
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), p + "axes"),
        numpy_helper.from_array(np.array(pre["mean"], dtype=np.float32), p + "mean"),
        numpy_helper.from_array(np.array(pre["std"], dtype=np.float32), p + "std"),
    ]
    nodes = [
        helper.make_node("Slice", [INPUT, p + "starts", p + "ends", p + "axes"], [p + "crop"], name=p + "crop"),
        helper.make_node("Sub", [p + "crop", p + "mean"], [p + "centred"], name=p + "sub"),
        helper.make_node("Div", [p + "centred", p + "std"], [input_name], name=p + "div"),
    ]
    return nodes, inits


def check_members(members: list[str | Path]) -> list[dict]:
    """Every member readable, with ferkit metadata, of one class list and face size; their metadata."""
    paths = [Path(m) for m in members]
    infos = [read_member(p)[1] for p in paths]
    _check_members(infos, paths)
    return infos


def build_ensemble(members: list[str | Path], weights: str | list[float] | None = None,
                   names: list[str] | None = None, selection: dict[str, Any] | None = None) -> onnx.ModelProto:
    """The ensemble of ``members`` (ONNX files with ferkit metadata) as one ONNX model; ``selection``
    (how members and weights were chosen, :meth:`ferkit.evaluate.selection.MemberSelection.record`) goes
    into its metadata."""
    if len(members) < 2:
        raise OptionError(f"an ensemble needs at least two members, got {len(members)}")
    paths = [Path(m) for m in members]
    read = [read_member(p) for p in paths]
    infos = [info for _, info in read]
    _check_members(infos, paths)
    w = parse_weights(weights, len(paths))
    names = names or [p.stem for p in paths]
    image_size = int(infos[0]["preprocess"]["image_size"])
    opset = max(_opset(proto) for proto, _ in read)
    nodes, inits, probs = [], [], []
    for i, (proto, info) in enumerate(read):
        if _opset(proto) != opset:
            proto = version_converter.convert_version(proto, opset)
        sub = compose.add_prefix(proto, f"m{i}_")
        g = sub.graph
        pre_nodes, pre_inits = _member_nodes(i, info, image_size, g.input[0].name)
        nodes += pre_nodes + list(g.node)
        inits += pre_inits + list(g.initializer)
        p = f"m{i}_post_"
        nodes.append(helper.make_node("Softmax", [g.output[0].name], [p + "probs"], axis=1, name=p + "softmax"))
        probs.append(p + "probs")
    n_classes = len(infos[0]["classes"])
    inits.append(numpy_helper.from_array(np.array(w, dtype=np.float32).reshape(1, -1, 1), "ens_weights"))
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "ens_axis1"))
    stacked = []
    for i, name in enumerate(probs):
        stacked.append(f"m{i}_post_stacked")
        nodes.append(helper.make_node("Unsqueeze", [name, "ens_axis1"], [stacked[-1]], name=f"m{i}_post_unsqueeze"))
    nodes += [
        helper.make_node("Concat", stacked, [MEMBER_OUTPUT], axis=1, name="ens_concat"),
        helper.make_node("Mul", [MEMBER_OUTPUT, "ens_weights"], ["ens_weighted"], name="ens_mul"),
        helper.make_node("ReduceSum", ["ens_weighted", "ens_axis1"], ["ens_mean"], keepdims=0, name="ens_sum"),
        helper.make_node("Log", ["ens_mean"], [OUTPUT], name="ens_log"),
    ]
    graph = helper.make_graph(
        nodes, "ferkit_ensemble",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", 1, image_size, image_size])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", n_classes]),
         helper.make_tensor_value_info(MEMBER_OUTPUT, TensorProto.FLOAT, ["batch", len(paths), n_classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ferkit ensemble", ir_version=read[0][0].ir_version)
    info = {
        "classes": list(infos[0]["classes"]),
        "preprocess": {"image_size": image_size, "input_size": image_size, "mean": 0.0, "std": 1.0},
        "model": {"name": "ensemble", "members": len(paths)},
        "ensemble": [
            {"name": n, "file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()[:16], "weight": wi,
             "model": info.get("model"), "preprocess": info["preprocess"],
             **({"dataset": info["dataset"]} if info.get("dataset") else {}),
             **({"quantization": quantization_record(p, info["quantization"])} if info.get("quantization") else {})}
            for n, p, wi, info in zip(names, paths, w, infos)
        ],
    }
    if selection is not None:
        info["selection"] = selection
    meta = model.metadata_props.add()
    meta.key, meta.value = METADATA_KEY, json.dumps(info)
    onnx.checker.check_model(model)
    return model


def check_ensemble_out(out: str | Path, members: list[str | Path], overwrite: bool = False) -> Path:
    """``out`` as a path an ensemble may be written to: an ``.onnx`` file, not a member, not an existing
    file unless ``overwrite``."""
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise OptionError(f"the ensemble must be written to an .onnx file, got {str(out)!r}")
    return check_writable(out, overwrite=overwrite, inputs=list(members))


def make_ensemble(members: list[str | Path], out: str | Path, weights: str | list[float] | None = None,
                  names: list[str] | None = None, overwrite: bool = False,
                  selection: dict[str, Any] | None = None) -> Path:
    """Write the ensemble of ``members`` to ``out`` (an ``.onnx`` path; an existing file is kept unless
    ``overwrite``; a member is never replaced)."""
    out = check_ensemble_out(out, members, overwrite)
    model = build_ensemble(members, weights, names, selection)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    return out
