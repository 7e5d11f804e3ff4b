"""Static int8 quantization of an exported model with ONNX Runtime (QDQ, per-channel weights), calibrated on
training faces, measured against the fp32 model on this machine (faces/s, preprocessing included) and on the
validation split (accuracy), with the result recorded in the quantized model's metadata and a card beside it.

Settings that suit CPUs without VNNI (AVX2): activations uint8, weights int8 with ``reduce_range`` (7-bit
weights, so the AVX2 multiply-add does not saturate). Dynamic quantization is not offered: it makes
convolutional models slower."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ferkit.core.errors import InputError, OptionError
from ferkit.core.options import check_bool, check_int
from ferkit.core.outputs import check_writable
from ferkit.core.preprocess import model_input
from ferkit.data import FaceDataset, load_dataset
from ferkit.evaluate.evaluator import evaluate
from ferkit.export.speed import faces_per_second
from ferkit.infer.classifier import METADATA_KEY, EmotionClassifier


class FaceCalibration:
    """ONNX Runtime's calibration reader over faces, preprocessed as the model expects."""

    def __init__(self, clf: EmotionClassifier, faces: np.ndarray, batch: int = 32):
        self.batches = []
        for start in range(0, len(faces), batch):
            chunk = faces[start : start + batch]
            feed = {clf.input_name: model_input(chunk, clf.preprocess)}
            if clf.takes_regions:
                from ferkit.faces.regions import face_regions

                feed["regions"] = face_regions(chunk)[0]
            self.batches.append(feed)
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= len(self.batches):
            return None
        self.position += 1
        return self.batches[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


def calibration_faces(data: str | Path | FaceDataset, image_size: int, n: int, seed: int) -> np.ndarray:
    """``n`` seeded training faces (the whole dataset when it has no training split)."""
    ds = data if isinstance(data, FaceDataset) else load_dataset(data, size=image_size, progress=False)
    if ds.split is not None and (ds.split == "train").any():
        ds = ds.select_split("train")
    if len(ds) == 0:
        raise InputError(f"{ds.name}: no faces to calibrate on")
    if ds.image_size != (image_size, image_size):
        raise InputError(f"{ds.name}: faces are {ds.image_size}, the model takes {image_size}x{image_size}")
    pick = np.random.default_rng(seed).choice(len(ds), size=min(n, len(ds)), replace=False)
    return ds.images[np.sort(pick)]


def compare_speed(fp32: EmotionClassifier, int8: EmotionClassifier, faces: np.ndarray, rounds: int = 3,
                  seconds: float = 1.0) -> dict[str, float]:
    """Median faces/s of each, measured in alternating rounds (this machine is noisy)."""
    runs: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(rounds):
        runs["fp32"].append(faces_per_second(fp32, faces, seconds))
        runs["int8"].append(faces_per_second(int8, faces, seconds))
    return {k: float(np.median(v)) for k, v in runs.items()}


def probability_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of every Softmax node and of all nodes after one: an ensemble's member probabilities, their
    weighted mean and its log. They cost nothing, and 8 bits would round them to steps of 1/255: small
    probabilities become 0 (logits -inf), which is what distillation and calibration need most."""
    tainted: set[str] = set()
    names: list[str] = []
    for node in proto.graph.node:  # ONNX graphs are stored in topological order
        if node.op_type == "Softmax" or tainted.intersection(node.input):
            tainted.update(node.output)
            if node.name:
                names.append(node.name)
    return names


#: the operators of a graph that is already (QDQ or QOperator) quantized
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"})


def quantize_model(model: str | Path, out: str | Path, calibrate: str | Path | FaceDataset, *,
                   n_calibration: int = 512, seed: int = 0, reduce_range: bool = True, per_channel: bool = True,
                   validate: bool = True, threads: int = 2, overwrite: bool = False) -> dict[str, Any]:
    """Quantize ``model`` (an ONNX file with ferkit metadata) to ``out``; returns the record (settings,
    faces/s of fp32 and int8, validation accuracy of both when the calibration data has a validation split)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model, out = Path(model), Path(out)
    if model.suffix.lower() != ".onnx" or out.suffix.lower() != ".onnx":
        raise OptionError("quantize takes an exported .onnx model and writes an .onnx file (export a checkpoint "
                          "first: ferkit export CHECKPOINT --out model.onnx)")
    check_int("quantize", "n_calibration", n_calibration, lo=1)
    check_bool("quantize", "reduce_range", reduce_range)
    check_bool("quantize", "per_channel", per_channel)
    inputs = [model, calibrate] if not isinstance(calibrate, FaceDataset) else [model]
    for path in (out, card_path(out)):
        check_writable(path, overwrite=overwrite, inputs=inputs)
    fp32 = EmotionClassifier(model, threads=threads)
    if fp32.backend != "onnxruntime":
        raise InputError(f"{model}: not an ONNX model")
    if fp32.info.get("quantization") or any(n.op_type in QDQ_OPS for n in onnx.load(str(model)).graph.node):
        raise InputError(f"{model}: already quantized (int8 operators or a quantization record); quantize the "
                         "fp32 model it came from" + (" (its ensemble members' fp32 sources, then ensemble those)"
                                                      if fp32.members else ""))
    faces = calibration_faces(calibrate, fp32.image_size, n_calibration, seed)
    record: dict[str, Any] = {
        "method": "onnxruntime static quantization", "format": "QDQ", "activations": "uint8", "weights": "int8",
        "per_channel": per_channel, "reduce_range": reduce_range, "calibration": "minmax",
        "calibration_faces": len(faces), "calibration_data": str(getattr(calibrate, "name", calibrate)),
        "source_model": model.name,
    }
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
        except Exception:  # noqa: BLE001 -- the optimiser is optional; quantizing the model as it is works too
            pre = model
        q = Path(tmp) / "int8.onnx"
        kept_fp32 = probability_nodes(onnx.load(str(pre)))
        if kept_fp32:
            record["kept_fp32"] = f"{len(kept_fp32)} nodes from each Softmax on (the probabilities)"
        quantize_static(str(pre), str(q), FaceCalibration(fp32, faces), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=kept_fp32)
        staged = Path(tmp) / "int8_with_metadata.onnx"  # measured here; `out` is written once, complete
        store_record(q, staged, fp32.info, record)
        int8 = EmotionClassifier(staged, threads=threads)
        record["faces_per_second"] = compare_speed(fp32, int8, faces)
        record["faster"] = max(record["faces_per_second"], key=record["faces_per_second"].get)
        agree = fp32.predict_proba(faces).argmax(1) == int8.predict_proba(faces).argmax(1)
        record["calibration_agreement"] = float(agree.mean())
        ds = calibrate if isinstance(calibrate, FaceDataset) else None
        if validate:
            data = ds if ds is not None else load_dataset(calibrate, size=fp32.image_size, progress=False)
            if data.split is not None and (data.split == "val").any():
                record["val_accuracy"] = {name: evaluate(clf, data, split="val")["accuracy"]
                                          for name, clf in (("fp32", fp32), ("int8", int8))}
        record["size_mb"] = {"fp32": round(model.stat().st_size / 1e6, 3),
                             "int8": round(staged.stat().st_size / 1e6, 3)}
        out.parent.mkdir(parents=True, exist_ok=True)
        store_record(staged, out, fp32.info, record)  # with the measurements, for the model card
    card_path(out).write_text(json.dumps(record, indent=2))
    return record


def store_record(source: Path, out: Path, info: dict, record: dict) -> None:
    """Write ``source`` to ``out`` (atomically) with ferkit's metadata: ``info`` plus the quantization record."""
    proto = onnx.load(str(source))
    del proto.metadata_props[:]
    meta = proto.metadata_props.add()
    meta.key, meta.value = METADATA_KEY, json.dumps({**info, "quantization": record}, default=str)
    tmp_out = out.with_name(out.name + ".tmp")
    onnx.save(proto, str(tmp_out))
    tmp_out.replace(out)


def card_path(out: str | Path) -> Path:
    """The record written beside a quantized model: ``NAME.quantization.json``."""
    return Path(out).with_suffix(".quantization.json")


def quantization_record(onnx_path: str | Path, record: dict) -> dict:
    """The quantization record in the model's metadata; a model quantized before the measurements (fp32 against
    int8: faces/s, validation accuracy) were stored there takes them from the NAME.quantization.json beside it."""
    beside = card_path(onnx_path)
    if "faces_per_second" not in record and beside.is_file():
        return {**json.loads(beside.read_text()), **record}
    return record
