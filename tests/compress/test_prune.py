import json

import numpy as np
import pytest
import torch
from faces_data import synthetic_faces

from ferkit.cli import main
from ferkit.compress.prune import prune_checkpoint, prune_model
from ferkit.core.errors import OptionError
from ferkit.export import export_onnx, max_abs_difference
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models import count_parameters, create
from ferkit.models.checkpoint import load_checkpoint, save_checkpoint
from ferkit.train import TrainConfig, train

pytest.importorskip("torch_pruning", reason="pruning needs the compress extra: pip install ferkit[compress]")


@pytest.mark.parametrize("name, cfg, size", [
    ("vgg_compact", {"widths": (8, 16, 32)}, 40),
    ("resnet", {"widths": (8, 16), "blocks": (1, 1)}, 48),
    ("mobilenet_v2", {"width_mult": 0.25}, 48),
])
def test_pruning_removes_channels_and_ratio_zero_changes_nothing(name, cfg, size, tmp_path):
    torch.manual_seed(0)
    model = create(name, **cfg).eval()
    x = torch.randn(3, 1, size, size)
    with torch.no_grad():
        before = model(x)
    untouched = prune_model(create(name, **cfg).eval(), 0.0, size)
    untouched.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(untouched(x), before)
    # ... and its ONNX classifies faces as the unpruned model's ONNX does
    pre = {"image_size": 48, "input_size": size, "mean": 0.5, "std": 0.25}
    classes = [f"c{i}" for i in range(7)]
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    zero_onnx = export_onnx(save_checkpoint(tmp_path / "z.pt", untouched, classes, pre), tmp_path / "z.onnx")
    full_onnx = export_onnx(save_checkpoint(tmp_path / "u.pt", model, classes, pre), tmp_path / "u.onnx")
    np.testing.assert_allclose(EmotionClassifier(zero_onnx).predict_proba(faces),
                               EmotionClassifier(full_onnx).predict_proba(faces), atol=1e-5)
    n = count_parameters(model)
    prune_model(model, 0.5, size)
    assert count_parameters(model) < 0.45 * n and model(x).shape == (3, 7)
    # a pruned model is saved with its structure, and loads, exports and classifies like any other
    path = save_checkpoint(tmp_path / "p.pt", model, classes, pre)
    again, state = load_checkpoint(path)
    assert state["model"]["pruned"] and count_parameters(again) == count_parameters(model)
    onnx_path = export_onnx(path, tmp_path / "p.onnx")
    assert max_abs_difference(path, onnx_path) < 1e-4
    assert onnx_path.stat().st_size < 0.6 * full_onnx.stat().st_size
    assert EmotionClassifier(onnx_path).predict_proba(faces).shape == (4, 7)


def test_prune_then_finetune_from_the_cli(tmp_path, capsys):
    ds = synthetic_faces(n=210)
    npz = tmp_path / "faces.npz"
    np.savez(npz, images=ds.images, labels=ds.labels,
             usage=np.array([{"train": 0, "val": 1, "test": 2}[s] for s in ds.split]))
    cfg = TrainConfig(data=str(npz), out=str(tmp_path / "run"), model="vgg_compact",
                      model_cfg={"widths": (8, 16, 32), "dropout": 0.0}, epochs=2, batch_size=16, lr=0.05,
                      warmup_epochs=0.5, bf16=False, channels_last=False)
    train(cfg, progress=False)
    code = main(["prune", str(tmp_path / "run" / "best.pt"), "--ratio", "0.5", "--finetune-epochs", "1", "--data",
                 str(npz), "--out", str(tmp_path / "pruned"), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "before" in printed and "pruned" in printed and "finetuned" in printed
    report = json.loads((tmp_path / "pruned" / "prune_report.json").read_text())
    assert report["pruned"]["parameters"] < 0.45 * report["before"]["parameters"]
    assert report["pruned"]["macs"] < 0.45 * report["before"]["macs"]
    assert report["finetuned"]["parameters"] == report["pruned"]["parameters"]
    assert 0 <= report["finetuned"]["val_accuracy"] <= 1
    assert main(["evaluate", report["finetuned_checkpoint"], "--data", str(npz), "--split", "test", "--json"]) == 0
    from ferkit.export.model_card import card_markdown, make_model_card
    from ferkit.models.checkpoint import read_checkpoint

    assert read_checkpoint(report["finetuned_checkpoint"])["pruning"] == report  # every stage, fine-tuning too
    onnx_path = export_onnx(report["finetuned_checkpoint"], tmp_path / "ft.onnx")
    card = make_model_card(report["finetuned_checkpoint"], onnx_path, npz)
    assert card["compression"]["pruning"]["ratio"] == 0.5
    md = card_markdown(card)
    assert "Pruned from" in md and f"| fine-tuned (1 epoch) | {report['finetuned']['parameters']:,} |" in md
    assert f"{report['pruned']['val_accuracy']:.4f}" in md
    speed = card["speed"]  # measured when the card is made, with the pruned model's MACs from its graph
    assert speed["faces_per_second_batch64"] > 0 and speed["macs"] == report["pruned"]["macs"]
    assert "faces/s in batches of 64" in card_markdown(card)
    assert main(["prune", str(tmp_path / "run" / "best.pt"), "--ratio", "0.5", "--out", str(tmp_path / "pruned")]) == 2
    with pytest.raises(OptionError, match="ratio"):
        prune_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "x", 1.5)
    with pytest.raises(OptionError, match="needs the training data"):
        prune_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "x", 0.3, finetune_epochs=1)


def conv_widths(model: torch.nn.Module) -> list[int]:
    return [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


def test_round_to_keeps_channel_counts_aligned(tmp_path):
    torch.manual_seed(0)
    exact = prune_model(create("vgg_compact", widths=(24, 40)).eval(), 0.1, 40)
    assert conv_widths(exact) == [21, 21, 36, 36]  # about 10% of each group, whatever the kernels prefer
    aligned = prune_model(create("vgg_compact", widths=(24, 40)).eval(), 0.1, 40, round_to=8)
    assert conv_widths(aligned) == [16, 16, 32, 32]  # kept channels rounded down to multiples of 8
    assert aligned(torch.randn(2, 1, 40, 40)).shape == (2, 7) and aligned.ferkit_cfg["pruning_round_to"] == 8
    with pytest.raises(OptionError, match="round_to must be >= 1"):
        prune_model(create("vgg_compact", widths=(24, 40)).eval(), 0.1, 40, round_to=0)
    classes = [f"c{i}" for i in range(7)]
    ckpt = save_checkpoint(tmp_path / "m.pt", create("vgg_compact", widths=(24, 40)).eval(), classes,
                           {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25})
    assert main(["prune", str(ckpt), "--ratio", "0.1", "--round-to", "8", "--out", str(tmp_path / "p"), "--json"]) == 0
    report = json.loads((tmp_path / "p" / "prune_report.json").read_text())
    assert report["round_to"] == 8 and conv_widths(load_checkpoint(tmp_path / "p" / "pruned.pt")[0]) == [16, 16, 32, 32]
