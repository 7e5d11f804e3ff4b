import json

import pytest
from faces_data import synthetic_faces

from ferkit.core.errors import OptionError, OutputExistsError
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
    assert "Quantized" in out.with_suffix(".md").read_text()


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
