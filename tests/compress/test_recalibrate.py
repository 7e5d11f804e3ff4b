import hashlib

import numpy as np
import pytest
import torch
from faces_data import write_faces

from ferkit.cli import main
from ferkit.compress.recalibrate import recalibrate_checkpoint
from ferkit.core.errors import InputError, OptionError, OutputError, OutputExistsError
from ferkit.evaluate import evaluate
from ferkit.export import export_onnx
from ferkit.models import create
from ferkit.models.batchnorm import batchnorms
from ferkit.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, update_checkpoint
from ferkit.train import TrainConfig, train

PRE = {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A toy run trained with a weight average whose batch-norm statistics are then spoilt, as if gathered on
    faces unlike the clean ones (shifted and scaled), so that re-estimating them must help."""
    tmp = tmp_path_factory.mktemp("recal")
    npz = write_faces(tmp / "faces.npz", n=280)
    train(TrainConfig(out=str(tmp / "a"), data=str(npz), model="vgg_compact",
                      model_cfg={"widths": (8, 16), "dropout": 0.0}, epochs=3, batch_size=16, lr=0.05,
                      warmup_epochs=0.5, bf16=False, channels_last=False, ema_decay=0.9), progress=False)
    state = read_checkpoint(tmp / "a" / "best.pt")
    spoilt = {k: (v * 4 + 3 if k.endswith("running_mean") else v * 9 if k.endswith("running_var") else v)
              for k, v in state["state_dict"].items()}
    path = tmp / "spoilt.pt"
    torch.save({**state, "state_dict": spoilt}, path)
    return npz, path


def test_recalibrated_copy_restores_statistics_and_records_the_change(run, tmp_path):
    npz, ckpt = run
    before_bytes = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    out = tmp_path / "re.pt"
    record = recalibrate_checkpoint(ckpt, out, npz, bn_faces=64)
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == before_bytes  # the checkpoint is untouched
    # the record's accuracies are evaluate's, of the checkpoint and of the copy
    assert record["accuracy_before"] == pytest.approx(evaluate(ckpt, npz, split="val")["accuracy"])
    assert record["accuracy_after"] == pytest.approx(evaluate(out, npz, split="val")["accuracy"])
    assert record["accuracy_after"] > record["accuracy_before"]
    assert record["faces"] == 64 and record["split"] == "val"
    old, new = read_checkpoint(ckpt), read_checkpoint(out)
    assert new["recalibration"] == record
    assert new["train_config"] == old["train_config"] and new["epoch"] == old["epoch"]
    for key, value in old["state_dict"].items():  # only the statistics change
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        assert torch.equal(new["state_dict"][key], value), key
    changed = [k for k in old["state_dict"] if k.endswith("running_mean")
               and not torch.allclose(old["state_dict"][k], new["state_dict"][k])]
    assert len(changed) == len(batchnorms(load_checkpoint(out)[0]))
    # re-estimating again on the same fixed sample gives the same statistics
    again = recalibrate_checkpoint(ckpt, tmp_path / "again.pt", npz, bn_faces=64)
    assert again["accuracy_after"] == record["accuracy_after"]
    for key, value in read_checkpoint(tmp_path / "again.pt")["state_dict"].items():
        torch.testing.assert_close(value, new["state_dict"][key])
    from ferkit.export.model_card import card_markdown, make_model_card

    md = card_markdown(make_model_card(out, export_onnx(out, tmp_path / "re.onnx"), npz))
    assert (f"re-estimated (`ferkit recalibrate`) on 64 clean training faces of `{npz}`: `val` accuracy "
            f"{record['accuracy_before']:.4f} with the checkpoint's own statistics, "
            f"{record['accuracy_after']:.4f} re-estimated") in md


def test_recalibrate_keeps_what_the_checkpoint_records(run, tmp_path):
    npz, ckpt = run
    first = tmp_path / "made.pt"
    first.write_bytes(ckpt.read_bytes())
    update_checkpoint(first, pruning={"ratio": 0.5}, soup={"method": "greedy"}, distillation={"alpha": 0.7},
                      metrics=[{"epoch": 1}], resume={"optimizer": {}})
    old = read_checkpoint(first)
    first_record = recalibrate_checkpoint(first, tmp_path / "re.pt", npz, bn_faces=32)
    state = read_checkpoint(tmp_path / "re.pt")
    assert state["pruning"] == {"ratio": 0.5} and state["soup"] == {"method": "greedy"}
    assert state["distillation"] == {"alpha": 0.7} and state["dataset_record"] == old["dataset_record"]
    assert "metrics" not in state and "resume" not in state  # the run's history is not the copy's
    assert first_record["checkpoint"] == str(first) and first_record["dataset"] == str(npz)
    # re-estimated again (on more faces): the first re-estimation stays on record
    second = recalibrate_checkpoint(tmp_path / "re.pt", tmp_path / "re2.pt", npz, bn_faces=64)
    assert second["previous"] == first_record and second["accuracy_before"] == first_record["accuracy_after"]
    from ferkit.export.model_card import _recalibration_line

    assert "had been re-estimated before, on 32 faces" in _recalibration_line(second)


def test_a_pruned_checkpoint_recalibrated_keeps_its_structure(run, tmp_path):
    npz, ckpt = run
    from ferkit.compress.prune import prune_checkpoint

    prune_checkpoint(ckpt, tmp_path / "pruned", ratio=0.5, finetune_epochs=0, data=npz, seconds=0.05)
    pruned = tmp_path / "pruned" / "pruned.pt"
    recalibrate_checkpoint(pruned, tmp_path / "re.pt", npz, bn_faces=32)
    model, _ = load_checkpoint(tmp_path / "re.pt")
    assert model.ferkit_cfg.get("pruned")
    shapes = {k: v.shape for k, v in read_checkpoint(pruned)["state_dict"].items()}
    assert {k: v.shape for k, v in model.state_dict().items()} == shapes
    assert read_checkpoint(tmp_path / "re.pt")["pruning"] == read_checkpoint(pruned)["pruning"]


def test_recalibrate_refuses_bad_requests(run, tmp_path):
    npz, ckpt = run
    with pytest.raises(OutputExistsError, match="the checkpoint itself"):
        recalibrate_checkpoint(ckpt, ckpt, npz, overwrite=True)
    (tmp_path / "exists.pt").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        recalibrate_checkpoint(ckpt, tmp_path / "exists.pt", npz)
    assert (tmp_path / "exists.pt").read_bytes() == b"keep me"
    with pytest.raises(InputError, match="ONNX"):
        recalibrate_checkpoint(tmp_path / "m.onnx", tmp_path / "r.pt", npz)
    with pytest.raises(OptionError, match=".pt path"):
        recalibrate_checkpoint(ckpt, tmp_path / "r.onnx", npz)
    with pytest.raises(OptionError, match="bn_faces must be >= 2"):
        recalibrate_checkpoint(ckpt, tmp_path / "r.pt", npz, bn_faces=1)
    regions = save_checkpoint(tmp_path / "regions.pt", create("regions"), CLASSES, {**PRE, "input_size": 48})
    with pytest.raises(OptionError, match="region model"):
        recalibrate_checkpoint(regions, tmp_path / "r.pt", npz)
    no_split = tmp_path / "nosplit.npz"
    np.savez(no_split, images=np.zeros((30, 48, 48), np.uint8), labels=np.arange(30) % 7)
    with pytest.raises(InputError, match="no validation split"):
        recalibrate_checkpoint(ckpt, tmp_path / "r.pt", no_split)
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(OutputError, match="is a file"):
        recalibrate_checkpoint(ckpt, tmp_path / "afile" / "r.pt", npz)
    assert not (tmp_path / "r.pt").exists()


def test_recalibrate_from_the_cli(run, tmp_path, capsys):
    npz, ckpt = run
    out = tmp_path / "re.pt"
    assert main(["recalibrate", str(ckpt), "--data", str(npz), "--out", str(out), "--bn-faces", "64"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: batch-norm statistics re-estimated on 64 training faces; validation accuracy" in printed
    assert main(["recalibrate", str(ckpt), "--data", str(npz), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["recalibrate", str(ckpt), "--data", str(npz), "--out", str(out), "--overwrite", "--json"]) == 0
    assert '"accuracy_after"' in capsys.readouterr().out
    assert main(["recalibrate", str(tmp_path / "missing.pt"), "--data", str(npz), "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "missing.pt" in err and "Traceback" not in err
