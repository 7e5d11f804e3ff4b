"""Model cards of ensembles: written by `ferkit ensemble --card-data` and `ferkit quantize --card-data` (no
checkpoint needed), their members, weights and selection from the ensemble's metadata."""

import json

import pytest
from faces_data import write_faces
from onnx_members import member

from ferkit.cli import main
from ferkit.core.errors import OptionError
from ferkit.export.ensemble import is_ensemble, make_ensemble
from ferkit.export.model_card import card_markdown, make_model_card
from ferkit.export.onnx import onnx_parameters


@pytest.fixture
def setup(tmp_path):
    a, b = member(tmp_path, "vgg", seed=0), member(tmp_path, "vgg44", seed=1)
    npz = tmp_path / "toy.npz"
    write_faces(npz, n=70)
    return a, b, npz


def test_cli_ensemble_writes_a_card_from_its_members(setup, tmp_path, capsys):
    a, b, npz = setup
    out = tmp_path / "ens.onnx"
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--weights", "3,1", "--card-data", str(npz),
                 "--card-command", "ferkit ensemble a.onnx b.onnx --out ens.onnx"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["architecture"] == {"name": "ensemble", "members": 2} and card["file"] == "ens.onnx"
    assert [(m["name"], m["weight"]) for m in card["ensemble"]] == [("vgg", 0.75), ("vgg44", 0.25)]
    assert card["ensemble"][1]["model"]["name"] == "vgg_compact"
    assert card["parameters"] == onnx_parameters(a) + onnx_parameters(b) + 2 > 2  # and the two member weights
    assert card["training"]["command"].startswith("ferkit ensemble")
    # the ensemble takes the whole face: ten crops would only repeat flip, so the card leaves them out
    assert set(card["evaluation"]) == {"val", "test_tta_none", "test_tta_flip"}
    assert card["speed"]["macs"] > 0 and card["speed"]["faces_per_second_batch64"] > 0
    md = out.with_suffix(".md").read_text()
    assert "an ensemble of 2" in md and "`vgg` (vgg_compact, weight 0.750" in md and "given, not selected" in md
    assert "wrote " in capsys.readouterr().out


def test_card_options_need_card_data_and_keep_existing_cards(setup, tmp_path, capsys):
    a, b, npz = setup
    out = tmp_path / "ens.onnx"
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--card-command", "ferkit ..."]) == 2
    assert "--card-data" in capsys.readouterr().err and not out.exists()
    # a card's missing dataset is found before the ensemble is written, not after
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--card-data", str(tmp_path / "no.npz")]) == 2
    assert "--card-data" in capsys.readouterr().err and not out.exists()
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--card-data", str(npz), "--card-cross",
                 str(tmp_path / "no")]) == 2
    assert not out.exists() and not out.with_suffix(".json").exists()
    out.with_suffix(".md").write_text("mine")
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--card-data", str(npz)]) == 2
    assert out.with_suffix(".md").read_text() == "mine" and not out.exists()


def test_a_selected_ensembles_card_shows_the_selection(setup, tmp_path):
    a, b, npz = setup
    selection = {"method": "best equal-weight subset, then greedy forward selection", "dataset": "toy:val",
                 "split": "val", "tta": "flip", "n": 10, "accuracy": 0.6, "single": {str(a): 0.5, str(b): 0.4},
                 "trace": [{"round": 0, "added": [str(a), str(b)], "accuracy": 0.6, "log_loss": 1.25}]}
    ens = make_ensemble([a, b], tmp_path / "sel.onnx", selection=selection)
    card = make_model_card(None, ens, npz)
    assert card["training"]["ensemble_selection"]["tta"] == "flip" and card["training"]["dataset"] == "toy"
    md = card_markdown(card)
    assert "on toy split val (n = 10, TTA flip): accuracy 0.6" in md and "reported only, never used" in md
    assert "training data is not recorded" in md  # these members were saved with no dataset name
    assert "| vgg.onnx | 0.5000 |" in md and "| 0 | vgg.onnx, vgg44.onnx | 0.6000 | 1.2500 |" in md
    # chosen on the test split: the card says its test figures are selected ones, not test results
    on_test = make_ensemble([a, b], tmp_path / "on_test.onnx", selection=dict(selection, split="test"))
    md = card_markdown(make_model_card(None, on_test, npz))
    assert "saw the test split" in md and "never used to choose" not in md
    assert "Config file" not in md and "Command:" in md  # no config file given: none named


def test_the_card_names_the_members_training_data(tmp_path):
    a, b = (member(tmp_path, k, seed=i, dataset="fer2013") for i, k in enumerate(("vgg", "vgg44")))
    npz = tmp_path / "toy.npz"
    write_faces(npz, n=70)
    card = make_model_card(None, make_ensemble([a, b], tmp_path / "e.onnx"), npz)
    assert [m["dataset"] for m in card["ensemble"]] == ["fer2013", "fer2013"]
    assert "Members trained on fer2013 (each member's own training split" in card_markdown(card)


def test_a_single_model_still_needs_its_checkpoint(setup):
    a, _, npz = setup
    assert not is_ensemble(a) and not is_ensemble(npz)
    with pytest.raises(OptionError, match="--card-checkpoint"):
        make_model_card(None, a, npz)


def test_cli_quantize_writes_an_int8_ensembles_card_without_a_checkpoint(setup, tmp_path):
    a, b, npz = setup
    ens = make_ensemble([a, b], tmp_path / "ens.onnx")
    assert is_ensemble(ens)
    out = tmp_path / "ens_int8.onnx"
    assert main(["quantize", str(ens), "--calibrate", str(npz), "--out", str(out), "--faces", "16",
                 "--card-data", str(npz), "--card-command", "ferkit quantize ens.onnx"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["compression"]["quantization"]["reduce_range"] is True
    assert card["compression"]["quantization"]["source_model"] == "ens.onnx"
    assert [m["name"] for m in card["ensemble"]] == ["vgg", "vgg44"]
    assert "Quantized (" in out.with_suffix(".md").read_text()
    assert card["parameters"] == onnx_parameters(ens)  # int8 counts what fp32 does


def test_cli_quantize_card_refusals(setup, tmp_path, capsys):
    a, b, npz = setup
    ens = make_ensemble([a, b], tmp_path / "ens.onnx")
    out = tmp_path / "q.onnx"
    base = ["--calibrate", str(npz), "--out", str(out), "--faces", "16", "--card-data", str(npz)]
    # an ensemble's card comes from its metadata: a checkpoint would describe one member as the whole
    assert main(["quantize", str(ens), *base, "--card-checkpoint", str(a.with_suffix(".pt"))]) == 2
    assert "leave out --card-checkpoint" in capsys.readouterr().err and not out.exists()
    assert main(["quantize", str(tmp_path / "nope.onnx"), *base]) == 2
    assert "no such model file" in capsys.readouterr().err and not out.exists()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a dataset")
    assert main(["quantize", str(ens), *base[:-1], str(bad)]) == 2  # found before quantizing, not after
    assert capsys.readouterr().err.strip() and not out.exists()


def test_an_ensemble_of_int8_members_reports_each_members_quantization(setup, tmp_path):
    from ferkit.export.quantize import quantize_model

    a, b, npz = setup
    qa = tmp_path / "a_int8.onnx"
    record = quantize_model(a, qa, npz, n_calibration=16)
    ens = make_ensemble([qa, b], tmp_path / "mixed.onnx", names=["a_int8", "b_fp32"])
    card = make_model_card(None, ens, npz)
    first, second = card["ensemble"]
    assert first["quantization"]["faces_per_second"] == record["faces_per_second"]
    assert first["quantization"]["val_accuracy"] == record["val_accuracy"] and "quantization" not in second
    md = card_markdown(card)
    assert "Members stored as int8: `a_int8`," in md and "- `a_int8`: Measured by `ferkit quantize`" in md
    assert "`b_fp32`:" not in md
