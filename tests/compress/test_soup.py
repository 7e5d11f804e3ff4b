import hashlib

import numpy as np
import pytest
import torch
from faces_data import write_faces

from ferkit.cli import main
from ferkit.compress.soup import average_weights, make_soup, recalibrate_batchnorm
from ferkit.core.errors import InputError, OptionError, OutputExistsError
from ferkit.core.preprocess import model_input
from ferkit.data import load_dataset
from ferkit.evaluate import evaluate
from ferkit.export import export_onnx
from ferkit.models import create
from ferkit.models.batchnorm import batchnorms
from ferkit.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, update_checkpoint
from ferkit.train import TrainConfig, train

PRE = {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def tiny(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create("vgg_compact", widths=(8, 16), dropout=0.0).eval()


def test_average_weights_is_the_mean_of_float_tensors_and_keeps_integer_ones():
    a, b = tiny(0).state_dict(), tiny(1).state_dict()
    b = {k: v + 1 if k.endswith("num_batches_tracked") else v for k, v in b.items()}
    avg = average_weights([a, b])
    for key, value in avg.items():
        if key.endswith("num_batches_tracked"):
            assert value.dtype == a[key].dtype and torch.equal(value, a[key])
        else:
            torch.testing.assert_close(value, (a[key] + b[key]) / 2)


def test_recalibrated_batchnorm_holds_the_statistics_of_the_faces():
    model = tiny(0)
    faces = np.random.default_rng(0).integers(0, 256, (256, 48, 48), dtype=np.uint8)
    recalibrate_batchnorm(model, faces, PRE, batch_size=64)  # equal batches: their average is the faces'
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        act = conv(torch.from_numpy(model_input(faces, PRE)))
    torch.testing.assert_close(bn.running_mean, act.mean((0, 2, 3)), atol=1e-4, rtol=1e-4)
    # the cumulative average of per-batch unbiased variances, as PyTorch keeps it with momentum None
    assert not model.training and bn.momentum == 0.1
    assert torch.allclose(bn.running_var, act.var((0, 2, 3)), rtol=0.05)


def test_batch_norm_of_pooled_features_takes_a_last_batch_of_one_face():
    torch.manual_seed(0)
    model = create("dan").eval()  # BatchNorm1d after pooling: a batch of one face cannot train it
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    recalibrate_batchnorm(model, faces, {**PRE, "input_size": 48}, batch_size=4)  # 4 + 1 -> one batch of 5
    assert all(int(m.num_batches_tracked) == 1 for m in batchnorms(model))


@pytest.fixture(scope="module")
def ingredients(tmp_path_factory):
    """A trained toy run, a warm restart of it (one basin), and an untrained model of the same architecture."""
    tmp = tmp_path_factory.mktemp("soup")
    npz = write_faces(tmp / "faces.npz", n=280)
    base = {"data": str(npz), "model": "vgg_compact", "model_cfg": {"widths": (8, 16), "dropout": 0.0},
            "batch_size": 16, "lr": 0.05, "warmup_epochs": 0.5, "bf16": False, "channels_last": False}
    train(TrainConfig(out=str(tmp / "a"), epochs=3, **base), progress=False)
    train(TrainConfig(out=str(tmp / "b"), epochs=2, seed=5, init_from=str(tmp / "a" / "best.pt"),
                      **{**base, "lr": 0.01}), progress=False)
    state = read_checkpoint(tmp / "a" / "best.pt")
    untrained = create("vgg_compact", widths=(8, 16), dropout=0.0).eval()
    save_checkpoint(tmp / "untrained.pt", untrained, state["classes"], state["preprocess"])
    return npz, [tmp / "a" / "best.pt", tmp / "b" / "last.pt", tmp / "untrained.pt"]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_greedy_soup_is_never_worse_than_its_best_ingredient_and_is_a_checkpoint(ingredients, tmp_path):
    npz, paths = ingredients
    before = [digest(p) for p in paths]
    record = make_soup(paths, tmp_path / "soup.pt", npz)
    assert [digest(p) for p in paths] == before  # ingredients untouched
    own = {i["checkpoint"]: i["accuracy"] for i in record["ingredients"]}
    for path in paths:  # each ingredient's accuracy is evaluate's, batch norm re-estimated
        assert 0 <= own[str(path)] <= 1
    best = max(own, key=own.get)
    assert record["chosen"][0] == best and record["accuracy"] >= own[best]
    # the run and its warm restart average well; the untrained model of the same architecture is left out
    assert sorted(record["chosen"]) == sorted(map(str, paths[:2]))
    assert [r["kept"] for r in record["trace"]] == [True, False] and record["trace"][1]["checkpoint"] == str(paths[2])
    assert len(record["trace"]) == len(paths) - 1
    assert [r["kept"] for r in record["trace"]] == [r["checkpoint"] in record["chosen"] for r in record["trace"]]
    # the written soup scores what the record says, as a checkpoint and exported to ONNX
    assert evaluate(tmp_path / "soup.pt", npz, split="val")["accuracy"] == pytest.approx(record["accuracy"])
    onnx_path = export_onnx(tmp_path / "soup.pt", tmp_path / "soup.onnx")
    assert evaluate(onnx_path, npz, split="val")["accuracy"] == pytest.approx(record["accuracy"], abs=0.02)
    assert read_checkpoint(tmp_path / "soup.pt")["soup"] == record
    from ferkit.export.model_card import card_markdown, make_model_card

    card = make_model_card(tmp_path / "soup.pt", onnx_path, npz)
    assert card["training"]["selection"] == f"a greedy soup of checkpoints on val accuracy of `{npz}`"
    md = card_markdown(card)
    assert "greedy soup" in md and "(epoch None)" not in md
    assert f"{own[best]:.4f} alone (its batch-norm statistics re-estimated), in the soup" in md
    assert f"`{paths[1]}` (epoch 2):" in md  # the epoch its run saved


def test_uniform_soup_of_copies_is_the_model_itself(ingredients, tmp_path):
    npz, paths = ingredients
    first, copy = tmp_path / "first.pt", tmp_path / "copy.pt"
    first.write_bytes(paths[0].read_bytes())
    copy.write_bytes(paths[0].read_bytes())
    update_checkpoint(first, pruning={"ratio": 0.5})  # how the first ingredient was made stays on record
    record = make_soup([first, copy], tmp_path / "soup.pt", npz, method="uniform", bn="average")
    assert record["chosen"] == [str(first), str(copy)]
    assert read_checkpoint(tmp_path / "soup.pt")["pruning"] == {"ratio": 0.5}
    from ferkit.export.model_card import _selection

    assert _selection(read_checkpoint(tmp_path / "soup.pt")).startswith("none: a uniform soup")
    soup, _ = load_checkpoint(tmp_path / "soup.pt")
    model, _ = load_checkpoint(paths[0])
    x = torch.from_numpy(model_input(load_dataset(npz).images[:8], PRE))
    with torch.no_grad():
        torch.testing.assert_close(soup(x), model(x))


def test_soup_refuses_what_cannot_be_averaged(ingredients, tmp_path):
    npz, paths = ingredients
    with pytest.raises(OptionError, match="two or more"):
        make_soup(paths[:1], tmp_path / "s.pt", npz)
    with pytest.raises(OptionError, match="given twice"):
        make_soup([paths[0], paths[0]], tmp_path / "s.pt", npz)
    other = save_checkpoint(tmp_path / "other.pt", create("vgg_compact", widths=(8, 24)), CLASSES, PRE)
    with pytest.raises(InputError, match="differs"):
        make_soup([paths[0], other], tmp_path / "s.pt", npz)
    with pytest.raises(OptionError, match="one of the ingredients"):
        make_soup(paths[:2], paths[1], npz, overwrite=True)
    (tmp_path / "exists.pt").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        make_soup(paths[:2], tmp_path / "exists.pt", npz)
    assert (tmp_path / "exists.pt").read_bytes() == b"keep me"
    with pytest.raises(OptionError, match="bn_faces must be >= 2"):
        make_soup(paths[:2], tmp_path / "s.pt", npz, bn_faces=1)
    with pytest.raises(OptionError, match="method"):
        make_soup(paths[:2], tmp_path / "s.pt", npz, method="best")
    with pytest.raises(InputError, match="ONNX"):
        make_soup([paths[0], tmp_path / "m.onnx"], tmp_path / "s.pt", npz)
    big = tmp_path / "big.npz"
    np.savez(big, images=np.zeros((30, 64, 64), np.uint8), labels=np.arange(30) % 7, usage=np.arange(30) % 3)
    with pytest.raises(InputError, match="64x64"):
        make_soup(paths[:2], tmp_path / "s.pt", big)
    no_split = tmp_path / "nosplit.npz"
    np.savez(no_split, images=np.zeros((30, 48, 48), np.uint8), labels=np.arange(30) % 7)
    with pytest.raises(InputError, match="no validation split"):
        make_soup(paths[:2], tmp_path / "s.pt", no_split)
    region_pre = {**PRE, "input_size": 48}
    regions = [save_checkpoint(tmp_path / f"r{i}.pt", create("regions"), CLASSES, region_pre) for i in range(2)]
    with pytest.raises(OptionError, match="--bn average"):
        make_soup(regions, tmp_path / "s.pt", npz)
    assert not (tmp_path / "s.pt").exists()


def test_soup_from_the_cli(ingredients, tmp_path, capsys):
    npz, paths = ingredients
    out = tmp_path / "soup.pt"
    assert main(["soup", *map(str, paths), "--data", str(npz), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| ingredient |" in printed and f"wrote {out}" in printed and "greedy:" in printed
    assert main(["soup", *map(str, paths[:2]), "--data", str(npz), "--out", str(out)]) == 2  # exists
    assert "exists" in capsys.readouterr().err
    assert main(["soup", str(paths[0]), "--data", str(npz), "--out", str(tmp_path / "x.pt")]) == 2
