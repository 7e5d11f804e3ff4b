import json
from pathlib import Path

import numpy as np
import pytest
from onnx_members import MEMBERS, member

import ferkit
from ferkit.cli import main
from ferkit.core.errors import InputError, MissingInputError, OptionError, OutputExistsError
from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset
from ferkit.evaluate import evaluate
from ferkit.export.ensemble import make_ensemble
from ferkit.infer.classifier import EmotionClassifier


@pytest.fixture
def members(tmp_path):
    return [member(tmp_path, k, seed=i) for i, k in enumerate(MEMBERS)]


def faces(n=11, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


@pytest.mark.parametrize("tta", ["none", "flip"])
def test_ensemble_matches_averaging_by_hand(tmp_path, members, tta):
    ens = make_ensemble(members, tmp_path / "ens.onnx")
    by_hand = [EmotionClassifier(m).predict_proba(faces(), tta=tta) for m in members]
    clf = EmotionClassifier(ens)
    assert clf.classes == EMOTIONS and clf.members == ("vgg", "xcp", "vgg44")
    if tta == "none":
        np.testing.assert_allclose(clf.predict_proba(faces()), np.mean(by_hand, axis=0), atol=1e-5)
    for i, p in enumerate(by_hand):  # each member's own output, flipped views included
        np.testing.assert_allclose(clf.predict_proba(faces(), tta=tta, member=i), p, atol=1e-5)
    assert not np.allclose(by_hand[0], by_hand[1], atol=1e-3)  # the members do differ


def test_weighted_ensemble(tmp_path, members):
    ens = make_ensemble(members[:2], tmp_path / "w.onnx", weights="3,1")
    p = [EmotionClassifier(m).predict_proba(faces()) for m in members[:2]]
    np.testing.assert_allclose(EmotionClassifier(ens).predict_proba(faces()), 0.75 * p[0] + 0.25 * p[1], atol=1e-5)
    info = EmotionClassifier(ens).info
    assert [m["weight"] for m in info["ensemble"]] == [0.75, 0.25]
    assert info["ensemble"][1]["preprocess"] == MEMBERS["xcp"][2]


def test_an_ensemble_can_be_a_member(tmp_path, members):
    inner = make_ensemble(members[:2], tmp_path / "inner.onnx")
    outer = make_ensemble([inner, members[2]], tmp_path / "outer.onnx")
    p = [EmotionClassifier(m).predict_proba(faces()) for m in members]
    expected = 0.5 * (p[0] + p[1]) / 2 + 0.5 * p[2]
    np.testing.assert_allclose(EmotionClassifier(outer).predict_proba(faces()), expected, atol=1e-5)


def test_bad_members_and_options_are_refused(tmp_path, members):
    with pytest.raises(OptionError, match="at least two members"):
        make_ensemble(members[:1], tmp_path / "e.onnx")
    with pytest.raises(OptionError, match="2 weights for 3 members"):
        make_ensemble(members, tmp_path / "e.onnx", weights="1,2")
    with pytest.raises(OptionError, match="non-negative"):
        make_ensemble(members[:2], tmp_path / "e.onnx", weights=[1, -1])
    with pytest.raises(OptionError, match="numbers separated by commas"):
        make_ensemble(members[:2], tmp_path / "e.onnx", weights="1,x")
    with pytest.raises(InputError, match="export a checkpoint first"):
        make_ensemble([members[0], tmp_path / "vgg.pt"], tmp_path / "e.onnx")
    with pytest.raises(MissingInputError, match="no such model file"):
        make_ensemble([members[0], tmp_path / "gone.onnx"], tmp_path / "e.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a readable ONNX model"):
        make_ensemble([members[0], junk], tmp_path / "e.onnx")
    other = member(tmp_path / "other", "xcp", classes=("a", "b", "c"))
    with pytest.raises(InputError, match="same classes in the same order"):
        make_ensemble([members[0], other], tmp_path / "e.onnx")
    with pytest.raises(OptionError, match=".onnx file"):
        make_ensemble(members, tmp_path / "e.pt")
    with pytest.raises(OutputExistsError):
        make_ensemble(members, members[0])  # never replaces a member
    assert not (tmp_path / "e.onnx").exists()


def test_evaluate_reports_each_member(tmp_path, members):
    ens = make_ensemble(members, tmp_path / "ens.onnx")
    rng = np.random.default_rng(0)
    ds = FaceDataset(faces(40), rng.integers(0, 7, 40), EMOTIONS, split=np.array(["test"] * 40), name="rand")
    report = evaluate(ens, ds, split="test")
    assert list(report["members"]) == ["vgg", "xcp", "vgg44"]
    for i, m in enumerate(members):
        alone = evaluate(m, ds, split="test")
        assert report["members"][list(report["members"])[i]]["accuracy"] == pytest.approx(alone["accuracy"])


def test_cli_ensemble_then_evaluate_and_analyze(tmp_path, members, capsys):
    out = tmp_path / "ens.onnx"
    assert main(["ensemble", *map(str, members), "--out", str(out), "--names", "a,b,c"]) == 0
    assert "3 members" in capsys.readouterr().out
    assert main(["ensemble", *map(str, members), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    rng = np.random.default_rng(0)
    npz = tmp_path / "d.npz"
    np.savez(npz, images=faces(30), labels=rng.integers(0, 7, 30), usage=np.full(30, 2))
    assert main(["evaluate", str(out), "--data", str(npz), "--split", "test", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["members"]) == {"a", "b", "c"}
    photo = Path(ferkit.__file__).parent / "samples" / "astronaut.png"
    assert main(["analyze", str(photo), "--model", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["status"] == "ok" and list(result["faces"][0]["emotions"]) == list(EMOTIONS)
    assert sum(result["faces"][0]["emotions"].values()) == pytest.approx(1.0)
