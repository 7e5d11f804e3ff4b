"""Ensemble selection on a validation split (greedy forward selection with replacement)."""

import json

import numpy as np
import onnx
import pytest
from faces_data import synthetic_faces
from onnx_members import member

from ferkit.cli import main
from ferkit.core.errors import InputError, OptionError
from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset
from ferkit.evaluate import evaluate
from ferkit.evaluate.selection import best_subset, greedy_selection, select_members
from ferkit.export import export_onnx
from ferkit.infer.classifier import METADATA_KEY, EmotionClassifier
from ferkit.train import TrainConfig, train


def one_hot_ish(labels, right, n_classes=3):
    """Probabilities: 0.9 on the label where ``right``, else 0.55 on the next class and 0.45 on the label."""
    p = np.full((len(labels), n_classes), 0.0)
    for i, (y, ok) in enumerate(zip(labels, right)):
        if ok:
            p[i, y], p[i, (y + 1) % n_classes] = 0.9, 0.1
        else:
            p[i, (y + 1) % n_classes], p[i, y] = 0.55, 0.45
    return p


def test_greedy_selection_finds_the_pair_that_beats_every_single_model():
    y = np.arange(9) % 3
    wrong_on = {0: range(3), 1: range(3, 6), 2: range(6, 9)}
    probs = [one_hot_ish(y, [i not in wrong_on[k] for i in range(9)]) for k in range(3)]
    probs.append(np.full((9, 3), 1 / 3))  # a useless candidate
    probs[3][:, 0] += 0.01  # ... that says class 0 always: right on a third
    probs[3] /= probs[3].sum(1, keepdims=True)
    counts, trace = greedy_selection(probs, y, rounds=8)
    assert trace[0]["accuracy"] == pytest.approx(6 / 9, abs=1e-4)  # the best single model
    assert trace[1]["accuracy"] == 1.0  # any two of the three complementary ones are always right
    assert counts[3] == 0 and (counts[:3] > 0).sum() >= 2
    assert len(trace) == 8


def test_greedy_selection_keeps_a_single_model_when_nothing_helps():
    y = np.array([0, 1, 2, 0])
    good = np.eye(3)[y] * 0.9 + 0.1 / 3
    bad = np.roll(good, 1, axis=1)
    counts, trace = greedy_selection([bad, good], y, rounds=4)
    assert counts.tolist() == [0, 1] and trace[0]["added"] == [1]


def test_the_best_subset_escapes_the_trap_of_a_strong_single_model():
    y = np.arange(9) % 3
    p1 = one_hot_ish(y, [i >= 4 for i in range(9)])  # unsure and wrong on 0-3
    p2 = one_hot_ish(y, [not 4 <= i < 8 for i in range(9)])  # unsure and wrong on 4-7: with p1 always right
    strong = np.zeros((9, 3))
    for i, c in enumerate(y):  # right on 0-7 by a little, sure and wrong on 8
        strong[i, c], strong[i, (c + 1) % 3], strong[i, (c + 2) % 3] = 0.48, 0.42, 0.10
    strong[8] = np.eye(3)[(y[8] + 1) % 3]
    probs = [strong, p1, p2]
    greedy_only, trace = greedy_selection(probs, y, rounds=2)
    # any one addition makes the strong model worse, so plain greedy re-adds it: 8 of 9 after two rounds
    assert greedy_only.tolist() == [1, 0, 0] and max(t["accuracy"] for t in trace) == pytest.approx(8 / 9, abs=1e-4)
    start = best_subset(probs, y)
    assert start[1] == start[2] == 1
    counts, trace = greedy_selection(probs, y, rounds=2, start=start)
    assert trace[0]["round"] == 0 and trace[0]["accuracy"] == 1.0
    assert ((sum(c * p for c, p in zip(counts, probs))).argmax(1) == y).all()


@pytest.fixture(scope="module")
def candidates(tmp_path_factory):
    """Three small models trained briefly on toy faces: each right on some faces, and they disagree."""
    tmp = tmp_path_factory.mktemp("candidates")
    ds = synthetic_faces(n=140)
    paths = []
    for i, (arch, cfg) in enumerate((("vgg_compact", {"widths": (8, 16)}), ("mini_xception", {"widths": (8, 16)}),
                                     ("vgg_compact", {"widths": (8, 8)}))):
        out = tmp / f"m{i}"
        train(TrainConfig(out=str(out), model=arch, model_cfg=cfg, epochs=1, batch_size=16, lr=0.05, seed=i,
                          warmup_epochs=0.5, bf16=False, channels_last=False), dataset=ds, progress=False)
        paths.append(export_onnx(out / "best.pt", tmp / f"m{i}.onnx"))
    return paths


def labelled_by(models, n=60, seed=3):
    """Toy faces labelled with the argmax of the mean of ``models``: that ensemble is right on every one."""
    faces = synthetic_faces(n=n, seed=seed).images
    mean = np.mean([EmotionClassifier(m).predict_proba(faces) for m in models], axis=0)
    return faces, mean.argmax(1)


def test_select_members_finds_the_ensemble_the_labels_came_from(candidates, tmp_path):
    a, b, c = candidates
    faces, labels = labelled_by([a, b])
    alone = [float((EmotionClassifier(m).predict_proba(faces).argmax(1) == labels).mean()) for m in (a, b)]
    assert max(alone) < 1.0 and len(np.unique(labels)) >= 2  # neither member alone is the labeller
    split = np.array(["val"] * 60)
    ds = FaceDataset(faces, labels, EMOTIONS, split=split, name="toy")
    sel = select_members([c, a, b], ds, split="val")
    assert set(sel.members) >= {a, b} and sel.accuracy == 1.0
    assert sum(sel.weights) == pytest.approx(1.0) and sel.n == 60
    assert sel.single[str(a)] == pytest.approx(alone[0]) and sel.trace[0]["round"] == 0  # the best subset first
    assert sel.trace[0]["accuracy"] == 1.0 and max(sel.single.values()) < 1.0
    # only the chosen split counts: other labels elsewhere change nothing
    split2 = np.array(["val"] * 60 + ["test"] * 60)
    noisy = FaceDataset(np.concatenate([faces, faces]), np.concatenate([labels, (labels + 1) % 7]), EMOTIONS,
                        split=split2, name="toy")
    again = select_members([c, a, b], noisy, split="val")
    assert again.members == sel.members and again.weights == sel.weights


@pytest.mark.parametrize("tta", ["none", "flip"])
def test_cli_selects_writes_and_records(candidates, tmp_path, capsys, monkeypatch, tta):
    a, b, c = candidates
    faces, labels = labelled_by([a, b])
    npz = tmp_path / "toy.npz"
    np.savez(npz, images=faces, labels=labels, usage=np.ones(60, dtype=np.int64))  # all PublicTest (val)
    out = tmp_path / "ens.onnx"
    assert main(["ensemble", str(c), str(a), str(b), "--out", str(out), "--select-on", str(npz), "--tta", tta,
                 "--names", "C,A,B", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "| round | added |" in text and f"TTA {tta}" in text
    info = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}[METADATA_KEY])
    files = {m["name"]: m["file"] for m in info["ensemble"]}
    assert files["A"] == a.name and files["B"] == b.name and files.get("C", c.name) == c.name
    assert info["selection"]["split"] == "val" and info["selection"]["tta"] == tta
    assert sum(m["weight"] for m in info["ensemble"]) == pytest.approx(1.0)
    if tta == "none":
        assert info["selection"]["accuracy"] == 1.0
    # the recorded accuracy is the written ensemble's, with the same TTA
    reached = evaluate(out, npz, split="val", tta=tta)["accuracy"]
    assert reached == pytest.approx(info["selection"]["accuracy"], abs=1e-4)
    assert f"accuracy {reached:.4f} on val" in text
    # an existing output is kept, and refused before any inference
    from ferkit.evaluate import evaluator

    def no_inference(*a, **k):
        raise AssertionError("inference ran")

    monkeypatch.setattr(evaluator, "predict_in_batches", no_inference)
    before = out.read_bytes()
    assert main(["ensemble", str(a), str(b), "--out", str(out), "--select-on", str(npz), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "e.pt"), "--select-on", str(npz)]) == 2
    assert ".onnx file" in capsys.readouterr().err


def test_cli_writes_nothing_when_one_model_is_best(candidates, tmp_path, capsys):
    a, b, _ = candidates
    faces, labels = labelled_by([a])
    npz = tmp_path / "toy.npz"
    np.savez(npz, images=faces, labels=labels, usage=np.ones(60, dtype=np.int64))
    out = tmp_path / "ens.onnx"
    assert main(["ensemble", str(b), str(a), "--out", str(out), "--select-on", str(npz), "--no-progress"]) == 1
    assert "nothing written" in capsys.readouterr().err and not out.exists()


def test_selection_refusals(candidates, tmp_path, capsys):
    a, b, _ = candidates
    faces, labels = labelled_by([a])
    ds = FaceDataset(faces, labels, EMOTIONS, split=np.array(["val"] * 60), name="toy")
    with pytest.raises(OptionError, match="at least two candidates"):
        select_members([a], ds)
    with pytest.raises(OptionError, match="listed twice"):
        select_members([a, a], ds)
    with pytest.raises(OptionError, match="tta must be one of none, flip"):
        select_members([a, b], ds, tta="ten_crop")  # the ensemble graph takes the whole face: no ten crops
    with pytest.raises(OptionError, match="no official 'val' split"):
        select_members([a, b], FaceDataset(faces, labels, EMOTIONS, name="nosplit"))
    with pytest.raises(InputError, match="are 32x32"):
        select_members([a, b], FaceDataset(faces[:, :32, :32], labels, EMOTIONS, split=ds.split, name="small"))
    other = member(tmp_path, "vgg", classes=EMOTIONS[:6])
    with pytest.raises(InputError, match="same classes"):
        select_members([a, other], ds)
    npz = tmp_path / "toy.npz"
    np.savez(npz, images=faces, labels=labels, usage=np.ones(60, dtype=np.int64))
    assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "e.onnx"), "--select-on", str(npz),
                 "--weights", "1,2"]) == 2
    assert "keep one" in capsys.readouterr().err
    for args, why in ((["--rounds", "3"], "--rounds only apply with --select-on"),
                      (["--select-on", str(npz), "--rounds", "-1"], "--rounds must be 0 or more"),
                      (["--tta", "flip"], "--tta only apply with --select-on")):
        assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "e.onnx"), *args]) == 2
        assert why in capsys.readouterr().err
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"not a model")
    assert main(["ensemble", str(a), str(pt), "--out", str(tmp_path / "e.onnx"), "--select-on", str(npz)]) == 2
    assert "ensemble members are ONNX models" in capsys.readouterr().err
    assert main(["ensemble", str(a), f"{a.parent}/./{a.name}", "--out", str(tmp_path / "e.onnx"), "--select-on",
                 str(npz)]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert not (tmp_path / "e.onnx").exists()
