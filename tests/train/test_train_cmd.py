"""`ferkit train`: --arch, checked options, refused output folders, --overwrite, --resume; no heavy imports
for --help."""

import ast
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ferkit.cli import main
from ferkit.models.checkpoint import read_checkpoint

TRAIN_CMD = Path(__file__).resolve().parents[2] / "src" / "ferkit" / "cli" / "train_cmd.py"
TINY = ["--set", "model_cfg.widths=(4, 8)", "--set", "bf16=false", "--no-progress", "--batch-size", "8"]


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (40, 48, 48), dtype=np.uint8), labels=np.arange(40) % 7,
             usage=np.array([0] * 30 + [1] * 10))
    return path


def run(capsys, *args):
    code = main(["train", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_arch_picks_the_architecture_and_model_is_refused(tmp_path, npz, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "--data", npz, "--out", out, "--arch", "mini_xception", "--epochs", "1",
                            "--set", "model_cfg.base=4", "--set", "channels_last=false", *TINY)
    # (channels_last=false: PyTorch 2.13's channels_last backward of mini_xception's strided 1x1 convolutions
    # crashes or hangs at 4-8 channels on some CPUs)
    assert code == 0, err
    assert json.loads(stdout)["epochs_run"] == 1
    state = read_checkpoint(out / "best.pt")
    assert state["model"]["name"] == "mini_xception" and state["train_config"]["model"] == "mini_xception"
    code, _, err = run(capsys, "--data", npz, "--out", tmp_path / "other", "--model", "resnet", "--epochs", "1")
    assert code == 2 and "--arch NAME (e.g. --arch resnet)" in err
    code, _, err = run(capsys, "--data", npz, "--out", tmp_path / "other", "--arch", "vit", "--epochs", "1")
    assert code == 2 and "model must be one of dan, mini_xception, mobilenet_v2, regions, resnet, resnet18, vgg, vgg19, vgg_compact, xception; got 'vit'" in err
    assert not (tmp_path / "other").exists()


def test_bad_options_are_refused_before_anything_is_read_or_written(tmp_path, npz, capsys):
    out = tmp_path / "run"
    code, _, err = run(capsys, "--data", npz, "--out", out, "--epochs", "0")
    assert code == 2 and "epochs must be >= 1, got 0" in err
    code, _, err = run(capsys, "--data", tmp_path / "missing.npz", "--out", out, "--lr", "0")
    assert code == 2 and "lr must be > 0" in err  # the option, not the missing dataset
    code, _, err = run(capsys, "--data", npz, "--out", out, "--set", "augment.rotate=abc")
    assert code == 2 and "augment.rotate must be a number" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\n")
    code, _, err = run(capsys, "--config", bad, "--data", npz, "--out", out)
    assert code == 2 and "bad.yaml: not valid YAML at line" in err
    code, _, err = run(capsys, "--out", out)
    assert code == 2 and "no dataset" in err
    code, _, err = run(capsys, "--data", npz, "--out", out, "--folds", "1")
    assert code == 2 and "--folds needs at least 2" in err
    code, _, err = run(capsys, "--data", npz, "--out", out, "--folds", "3", "--overwrite")
    assert code == 2 and "use another --out" in err
    assert not out.exists()


def test_out_with_a_run_needs_resume_or_overwrite(tmp_path, npz, capsys, caplog):
    out = tmp_path / "run"
    args = ["--data", npz, "--out", out, "--epochs", "1", *TINY]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 2 and "already holds a training run (last.pt, best.pt, metrics.csv)" in err
    assert "--resume" in err and "--overwrite" in err

    # a partial run (stopped before its first checkpoint) is refused too
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "metrics.csv").write_text("epoch\n")
    code, _, err = run(capsys, "--data", npz, "--out", partial, "--epochs", "1", *TINY)
    assert code == 2 and "already holds a training run (metrics.csv)" in err
    code, stdout, err = run(capsys, "--data", npz, "--out", partial, "--epochs", "1", "--overwrite", *TINY)
    assert code == 0, err and json.loads(stdout)["epochs_run"] == 1

    # --overwrite starts over: one epoch, not a continuation
    before = read_checkpoint(out / "last.pt")["epoch"]
    code, stdout, err = run(capsys, *args, "--overwrite")
    assert code == 0, err
    assert before == 1 and read_checkpoint(out / "last.pt")["epoch"] == 1
    assert [ln.split(",")[0] for ln in (out / "metrics.csv").read_text().splitlines()] == ["epoch", "1"]

    # --resume continues, with the checkpoint's architecture even when --arch names another
    code, _, err = run(capsys, *args, "--resume", out / "last.pt", "--overwrite")
    assert code == 2 and "give one of them" in err
    with caplog.at_level(logging.WARNING, logger="ferkit.train"):
        code, stdout, err = run(capsys, "--data", npz, "--out", out, "--epochs", "2", "--arch", "resnet",
                                "--resume", out / "last.pt", *TINY)
    assert code == 0, err
    assert json.loads(stdout)["epochs_run"] == 2
    assert any("resuming with the checkpoint's model" in r.getMessage() for r in caplog.records)
    assert read_checkpoint(out / "last.pt")["model"]["name"] == "vgg_compact"


def test_module_imports_only_the_standard_library():
    tree = ast.parse(TRAIN_CMD.read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    assert top <= {"__future__", "argparse", "json"}, top
    # building the parser and asking for help loads no PyTorch (the module is loaded on its own)
    probe = f"""
import argparse, importlib.util, sys
spec = importlib.util.spec_from_file_location("train_cmd_probe", {str(TRAIN_CMD)!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
parser = argparse.ArgumentParser(prog="ferkit")
mod.add_parser(parser.add_subparsers(dest="command"))
try:
    parser.parse_args(["train", "--help"])
except SystemExit:
    pass
print("HEAVY", sorted(m for m in ("torch", "numpy", "sklearn", "matplotlib", "ferkit") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120)
    assert "--arch NAME" in out.stdout and "--overwrite" in out.stdout
    assert "--model" not in out.stdout.split("HEAVY")[0]
    assert out.stdout.strip().splitlines()[-1] == "HEAVY []", out.stdout + out.stderr


def test_out_under_a_file_is_one_line_for_train_and_folds(tmp_path, npz, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "--data", npz, "--out", blocker / "run", "--epochs", "1", *TINY)
    assert code == 2 and "cannot create its folder" in err and "Traceback" not in err
    code, out, err = run(capsys, "--data", npz, "--out", blocker / "cv", "--folds", "2", "--epochs", "1", *TINY)
    assert code == 2 and "cannot create its folder" in err and "Traceback" not in err


def test_resume_alone_continues_with_the_runs_own_config(tmp_path, npz, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text("label_smoothing = 0.05\n[augment]\nrotate = 3.0\n")
    first = tmp_path / "first"
    code, _, err = run(capsys, "--config", cfg, "--data", npz, "--out", first, "--epochs", "1", "--seed", "5", *TINY)
    assert code == 0, err
    # the folder moves; `--resume` alone continues there, with the recorded config; --epochs extends it
    moved = tmp_path / "moved"
    first.rename(moved)
    code, stdout, err = run(capsys, "--resume", moved / "last.pt", "--epochs", "2", "--no-progress")
    assert code == 0, err
    assert json.loads(stdout)["epochs_run"] == 2
    saved = read_checkpoint(moved / "last.pt")
    assert saved["epoch"] == 2 and saved["train_config"]["out"] == str(moved)
    assert saved["train_config"]["label_smoothing"] == 0.05 and saved["train_config"]["seed"] == 5
    assert saved["train_config"]["augment"]["rotate"] == 3.0
    assert tuple(saved["train_config"]["model_cfg"]["widths"]) == (4, 8)
    assert [ln.split(",")[0] for ln in (moved / "metrics.csv").read_text().splitlines()] == ["epoch", "1", "2"]
    # without --config a changed training set is still refused (the recorded config, then the override)
    code, _, err = run(capsys, "--resume", moved / "last.pt", "--epochs", "3", "--set", "train_limit=20")
    assert code == 2 and "another training set" in err

    # a checkpoint that records no training config: one line asking for --config
    import torch

    state = read_checkpoint(moved / "last.pt")
    del state["train_config"]
    bare = tmp_path / "bare" / "last.pt"
    bare.parent.mkdir()
    torch.save(state, bare)
    code, _, err = run(capsys, "--resume", bare, "--epochs", "3")
    assert code == 2 and "records no training config" in err and "--config" in err and "Traceback" not in err
