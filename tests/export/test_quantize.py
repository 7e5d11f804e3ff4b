import json

import numpy as np
import pytest
from faces_data import synthetic_faces

from ferkit.core.errors import InputError, OptionError, OutputExistsError
from ferkit.core.labels import EMOTIONS
from ferkit.export import export_onnx
from ferkit.export.quantize import card_path, quantize_model
from ferkit.infer.classifier import EmotionClassifier
from ferkit.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained for a few epochs on learnable toy faces, exported."""
    tmp = tmp_path_factory.mktemp("q")
    ds = synthetic_faces(n=280)
    cfg = TrainConfig(out=str(tmp / "run"), model="vgg_compact", model_cfg={"widths": (8, 16), "dropout": 0.0},
                      epochs=3, batch_size=16, lr=0.05, warmup_epochs=0.5, bf16=False, channels_last=False)
    train(cfg, dataset=ds, progress=False)
    return export_onnx(tmp / "run" / "best.pt", tmp / "model.onnx"), ds


def test_int8_model_agrees_with_fp32_and_keeps_its_metadata(trained, tmp_path):
    model, ds = trained
    out = tmp_path / "int8.onnx"
    record = quantize_model(model, out, ds, n_calibration=64)
    assert record["calibration_agreement"] >= 0.9
    assert set(record["faces_per_second"]) == {"fp32", "int8"} and record["faster"] in ("fp32", "int8")
    assert set(record["val_accuracy"]) == {"fp32", "int8"}
    assert abs(record["val_accuracy"]["int8"] - record["val_accuracy"]["fp32"]) <= 0.1
    int8 = EmotionClassifier(out)
    assert int8.classes == EMOTIONS and int8.info["quantization"]["reduce_range"] is True
    stored = int8.info["quantization"]  # the measurements are in the model too, where its card reads them
    assert stored["val_accuracy"] == record["val_accuracy"] and stored["faster"] == record["faster"]
    fp32 = EmotionClassifier(model)
    faces = ds.images[ds.split == "test"]
    agree = (int8.predict_proba(faces).argmax(1) == fp32.predict_proba(faces).argmax(1)).mean()
    assert agree >= 0.9
    assert json.loads(card_path(out).read_text())["calibration_faces"] == 64
    assert any(n.op_type == "QuantizeLinear" for n in __import__("onnx").load(str(out)).graph.node)


def test_macs_are_counted_from_any_onnx_graph(trained, tmp_path):
    """onnx_macs counts what torch's flop counter counts, for the exported and the int8 model alike."""
    from ferkit.export.onnx import onnx_macs
    from ferkit.models import count_macs
    from ferkit.models.checkpoint import load_checkpoint

    model, ds = trained
    net, state = load_checkpoint(model.with_name("run") / "best.pt")
    expected = count_macs(net, state["preprocess"]["input_size"])
    assert onnx_macs(model) == expected > 0
    quantize_model(model, tmp_path / "int8.onnx", ds, n_calibration=32, validate=False)
    assert onnx_macs(tmp_path / "int8.onnx") == expected


def test_cli_writes_the_int8_models_card(trained, tmp_path, capsys):
    from faces_data import write_faces

    from ferkit.cli import main

    model, _ = trained
    data = write_faces(tmp_path / "d.npz")
    out = tmp_path / "int8.onnx"
    args = ["quantize", str(model), "--calibrate", str(data), "--out", str(out), "--faces", "32", "--card-data",
            str(data), "--card-command", "ferkit quantize ..."]
    assert main(args) == 2 and "--card-checkpoint" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--card-checkpoint", str(model.with_name("run") / "best.pt")]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["file"] == "int8.onnx" and card["compression"]["quantization"]["reduce_range"] is True
    assert {"test_tta_none", "test_tta_flip", "val"} <= set(card["evaluation"]) and card["speed"]["macs"] > 0
    q = card["compression"]["quantization"]
    assert set(q["faces_per_second"]) == {"fp32", "int8"} and set(q["val_accuracy"]) == {"fp32", "int8"}
    md = out.with_suffix(".md").read_text()
    assert "Quantized" in md and f"int8 {q['val_accuracy']['int8']:.4f}" in md and f"({q['faster']} is faster)" in md


def test_a_card_takes_older_measurements_from_the_record_beside_the_model(tmp_path):
    """Models quantized before the measurements went into their metadata keep them in NAME.quantization.json."""
    from ferkit.export.quantize import quantization_record

    settings = {"method": "onnxruntime static quantization", "reduce_range": True}
    measured = {**settings, "faces_per_second": {"fp32": 900.0, "int8": 1800.0}, "faster": "int8",
                "val_accuracy": {"fp32": 0.68, "int8": 0.679}}
    model = tmp_path / "old_int8.onnx"
    assert quantization_record(model, settings) == settings  # nothing beside it
    card_path(model).write_text(json.dumps(measured))
    assert quantization_record(model, settings) == measured
    assert quantization_record(model, {**measured, "faster": "fp32"})["faster"] == "fp32"  # the model's own wins


def test_quantize_refusals(trained, tmp_path):
    model, ds = trained
    out = tmp_path / "int8.onnx"
    out.write_bytes(b"mine")
    with pytest.raises(OutputExistsError):
        quantize_model(model, out, ds)
    assert out.read_bytes() == b"mine"
    with pytest.raises(OptionError, match="export a checkpoint first"):
        quantize_model(tmp_path / "m.pt", tmp_path / "q.onnx", ds)
    with pytest.raises(OutputExistsError):
        quantize_model(model, model, ds)
    int8 = tmp_path / "first.onnx"
    quantize_model(model, int8, ds, n_calibration=16, validate=False)
    with pytest.raises(InputError, match="already quantized"):  # quantizing twice: refused before any work
        quantize_model(int8, tmp_path / "twice.onnx", ds)
    assert not (tmp_path / "twice.onnx").exists()


def test_an_int8_ensemble_keeps_its_probabilities_in_fp32(tmp_path):
    import onnx
    import onnxruntime as ort
    from faces_data import write_faces
    from onnx_members import member

    from ferkit.export.ensemble import make_ensemble
    from ferkit.export.quantize import probability_nodes

    npz = tmp_path / "toy.npz"
    write_faces(npz, n=40)
    ens = make_ensemble([member(tmp_path, "vgg", seed=0), member(tmp_path, "vgg44", seed=1)], tmp_path / "ens.onnx")
    out = tmp_path / "ens_int8.onnx"
    record = quantize_model(ens, out, npz, n_calibration=16, validate=False)
    assert "kept_fp32" in record
    proto = onnx.load(str(out))
    ops = {n.name: n.op_type for n in proto.graph.node}
    after_softmax = {ops[name] for name in probability_nodes(proto)}
    assert "Softmax" in after_softmax and not after_softmax & {"QuantizeLinear", "DequantizeLinear"}
    assert "QuantizeLinear" in ops.values()  # the members' layers are int8
    faces = np.random.default_rng(2).random((16, 1, 48, 48), dtype=np.float32)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits, member_probs = sess.run(None, {sess.get_inputs()[0].name: faces})
    assert np.isfinite(logits).all()  # 8-bit probabilities would round small ones to 0 (logit -inf)
    assert np.abs(member_probs * 255 - np.round(member_probs * 255)).max() > 0.05  # not in steps of 1/255
