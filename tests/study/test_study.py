import csv
import json

import pytest
from faces_data import write_faces

from ferkit.cli import main
from ferkit.core.errors import MissingInputError, OptionError, ResumeError
from ferkit.study import read_study, run_study
from ferkit.study import runner as runner_mod

TINY_STUDY = """
name = "tiny"
description = "two tiny models"
data = "faces.npz"
cross = ["cross.npz"]
seeds = [0]

[set]
epochs = 1
batch_size = 16
lr = 0.05
warmup_epochs = 0.5
bf16 = false
channels_last = false

[[runs]]
name = "vgg_small"
set = { model = "vgg_compact", model_cfg = { widths = [8, 16], dropout = 0.0 } }

[[runs]]
name = "xcp"
set = { model = "mini_xception", model_cfg = { widths = [8, 16] } }
seeds = [0, 1]

[ensemble]
runs = ["vgg_small", "xcp"]
"""


@pytest.fixture
def study(tmp_path):
    write_faces(tmp_path / "faces.npz")
    write_faces(tmp_path / "cross.npz", n=28, seed=5, usage=False)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY)
    return path


def test_tiny_study_end_to_end_then_resume_without_retraining(study, tmp_path, monkeypatch):
    spec = read_study(study)
    out = tmp_path / "out"
    summary = run_study(spec, out, progress=False)
    assert not summary["interrupted"]
    with (out / "study.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["run"], r["seed"]) for r in rows] == [("vgg_small", "0"), ("xcp", "0"), ("xcp", "1"), ("ensemble", "")]
    for r in rows:
        for key in ("val_acc", "test_acc", "test_acc_flip", "test_macro_f1", "cross_cross_acc", "faces_per_s"):
            assert 0 <= float(r[key]) <= (1 if key != "faces_per_s" else 1e9), (key, r)
        assert int(r["params"]) > 0 and float(r["macs_m"]) > 0
    assert int(rows[3]["params"]) == int(rows[0]["params"]) + int(rows[1]["params"]) + int(rows[2]["params"])
    md = (out / "study.md").read_text()
    assert "| xcp | mini_xception | 2 |" in md and "±" in md and "Runs finished: 3 of 3." in md
    for png in ("accuracy_vs_macs.png", "per_class_f1.png", "val_curves.png"):
        assert (out / png).stat().st_size > 5000
    result = json.loads((out / "runs" / "xcp-s1" / "result.json").read_text())
    assert result["test"]["n"] == 42 and result["cross"]["cross"]["flip"]["n"] == 28
    assert (out / "runs" / "xcp-s1" / "reports" / "test_confusion.png").exists()
    ens = json.loads((out / "runs" / "ensemble" / "result.json").read_text())
    assert list(ens["test"]["members"]) == ["vgg_small-s0", "xcp-s0", "xcp-s1"]

    # again: nothing is retrained or re-evaluated
    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner_mod, "train", no_training)
    monkeypatch.setattr(runner_mod, "evaluate_model", no_training)
    again = run_study(read_study(study), out, progress=False)
    assert len(again["results"]) == 4


def test_interrupted_run_resumes_and_finished_runs_are_skipped(study, tmp_path, monkeypatch):
    spec = read_study(study)
    out = tmp_path / "out"
    run_study(spec, out, only=["vgg_small"], progress=False)
    trained = []
    real_train = runner_mod.train

    def counting(cfg, resume=None, **kw):
        trained.append((cfg.out, resume))
        return real_train(cfg, resume=resume, **kw)

    monkeypatch.setattr(runner_mod, "train", counting)
    # an interrupted xcp-s0: its last.pt is there, trained.json not yet
    summary = run_study(spec, out, only=["xcp"], epochs=None, progress=False)
    assert [t[0].endswith("xcp-s0") or t[0].endswith("xcp-s1") for t in trained] == [True, True]
    (out / "runs" / "xcp-s0" / "trained.json").unlink()
    (out / "runs" / "xcp-s0" / "result.json").unlink()
    trained.clear()
    summary = run_study(spec, out, progress=False)
    assert [(t[0].rsplit("/", 1)[-1], t[1] is not None) for t in trained] == [("xcp-s0", True)]
    assert len(summary["results"]) == 4


def test_changed_settings_are_refused_for_started_runs(study, tmp_path):
    out = tmp_path / "out"
    run_study(read_study(study), out, only=["vgg_small"], progress=False)
    with pytest.raises(ResumeError, match="run vgg_small-s0 was started with other settings.*train_limit"):
        run_study(read_study(study), out, only=["vgg_small"], limit=50, progress=False)
    # a setting an older ferkit did not record counts as its default
    plan = json.loads((out / "study.json").read_text())
    for key in ("teacher", "distill_alpha", "train_limit"):
        del plan["runs"]["vgg_small-s0"][key]
    (out / "study.json").write_text(json.dumps(plan))
    run_study(read_study(study), out, only=["vgg_small"], progress=False)
    # a run not started yet may take new settings
    run_study(read_study(study), out, only=["xcp"], epochs=1, limit=30, progress=False)
    record = json.loads((out / "runs" / "xcp-s0" / "train_set.json").read_text())
    assert record["trained_on"] == 30


@pytest.mark.parametrize("text, error, match", [
    ("[[runs]]\nname = 'a'\nset = { model = 'nope' }", OptionError, "run 'a': model must be one of"),
    ("[[runs]]\nname = 'a'\nset = { epochs = 0 }", OptionError, "run 'a': epochs must be"),
    ("[[runs]]\nname = 'a'\n[[runs]]\nname = 'a'", OptionError, "a appear twice"),
    ("[[runs]]\nname = 'a b'", OptionError, "needs a name"),
    ("[[runs]]\nname = 'a'\nset = { seed = 3 }", OptionError, "seed are set by the study"),
    ("[[runs]]\nname = 'a'\nseeds = [1, 1]", OptionError, "lists a seed twice"),
    ("colour = 1\n[[runs]]\nname = 'a'", OptionError, "unknown keys \\['colour'\\]"),
    ("", OptionError, "at least one \\[\\[runs\\]\\]"),
    ("[[runs]]\nname = 'a'\n[ensemble]\nruns = ['b']", OptionError, "does not have: b"),
    ("base = 'gone.toml'\n[[runs]]\nname = 'a'", MissingInputError, "base config 'gone.toml' not found"),
    ("[[runs]\nname = 'a'", OptionError, "not a valid TOML study file"),
])
def test_bad_study_files_are_refused_before_training(tmp_path, text, error, match):
    write_faces(tmp_path / "faces.npz")
    path = tmp_path / "s.toml"
    path.write_text("data = 'faces.npz'\n" + text)
    with pytest.raises(error, match=match):
        read_study(path)


def test_missing_dataset_and_cli(tmp_path, study, capsys):
    bad = tmp_path / "nodata.toml"
    bad.write_text("data = 'nowhere.npz'\n[[runs]]\nname = 'a'\n")
    with pytest.raises(MissingInputError, match="neither a dataset path"):
        read_study(bad)
    assert main(["study", str(study), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    planned = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in planned] == ["vgg_small-s0", "xcp-s0", "xcp-s1"]
    assert main(["study", str(study), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert main(["study", str(study), "--runs", "nope", "--dry-run"]) == 2
    assert "does not have: nope" in capsys.readouterr().err


def test_shipped_studies_are_valid(monkeypatch, tmp_path):
    from pathlib import Path

    write_faces(tmp_path / "fer2013.npz")
    write_faces(tmp_path / "ckplus.npz", usage=False)
    monkeypatch.setenv("FERKIT_DATA", str(tmp_path))
    studies = sorted((Path(__file__).parents[2] / "configs" / "studies").glob("*.toml"))
    assert studies
    for path in studies:
        spec = read_study(path)
        assert spec.runs
