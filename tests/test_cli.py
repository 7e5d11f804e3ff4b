import json

import cv2
import numpy as np
import pytest
import torch

from ferkit.cli import COMMANDS, main
from ferkit.core.labels import EMOTIONS
from ferkit.export import export_onnx
from ferkit.models import create
from ferkit.models.checkpoint import save_checkpoint


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: ferkit " + command in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name, (_, help_text) in COMMANDS.items():
        assert name in out and help_text in out


@pytest.fixture
def tiny_onnx(tmp_path):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", create("vgg_compact", widths=(4, 8)), EMOTIONS,
                           {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25})
    return export_onnx(ckpt, tmp_path / "m.onnx")


def test_predict_good_and_bad_files(tmp_path, tiny_onnx, capsys):
    good = tmp_path / "face.jpg"
    cv2.imwrite(str(good), np.full((90, 70, 3), 120, np.uint8))
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    code = main(["predict", "--model", str(tiny_onnx), "--json", str(good), str(bad), str(tmp_path / "missing.png")])
    out, err = capsys.readouterr()
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    ok = [r for r in records if "emotions" in r][0]
    assert list(ok["emotions"]) == list(EMOTIONS) and abs(sum(ok["emotions"].values()) - 1) < 1e-9
    errors = {r["path"]: r["error"] for r in records if "error" in r}
    assert "not a readable image" in errors[str(bad)]
    assert "no such file" in errors[str(tmp_path / "missing.png")]
    assert str(bad) in err


def test_evaluate_writes_report(tmp_path, tiny_onnx, capsys):
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (20, 48, 48), dtype=np.uint8), labels=np.arange(20) % 7,
             usage=np.array([0] * 10 + [1] * 5 + [2] * 5))
    code = main(["evaluate", str(tiny_onnx), "--data", str(data), "--split", "test", "--out", str(tmp_path / "r.json")])
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "top3_accuracy", "per_class",
                "confusion_matrix", "n"):
        assert key in r
    assert r["n"] == 5
    assert (tmp_path / "r.md").exists() and (tmp_path / "r_confusion.png").exists()
    assert "accuracy" in capsys.readouterr().out


def test_data_info_and_models(tmp_path, capsys):
    csv = tmp_path / "f.csv"
    csv.write_text("emotion,pixels,Usage\n" + "\n".join(
        f"{k % 7},{' '.join([str(k * 9)] * 2304)},Training" for k in range(8)) + "\n5,1 2,Training\n")
    assert main(["data", "info", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "f.csv:10" in out and "skipped 1 items" in out
    assert main(["models"]) == 0
    assert "mini_xception" in capsys.readouterr().out


def test_train_cli_and_clear_errors(tmp_path, capsys):
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (40, 48, 48), dtype=np.uint8), labels=np.arange(40) % 7,
             usage=np.array([0] * 30 + [1] * 10))
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "8",
            "--set", "model_cfg.widths=(4, 8)", "--set", "bf16=false", "--no-progress"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    assert main(args) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope.onnx"), "--data", str(data)]) == 2


def test_train_folds_on_ckplus_style_folders(tmp_path, subject_dataset, capsys):
    root = tmp_path / "ck"
    for i, (img, y, subject) in enumerate(zip(subject_dataset.images, subject_dataset.labels, subject_dataset.groups)):
        folder = root / subject_dataset.classes[y]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{subject}_{i % 7 + 1:03d}_00000010.png"), img)
    args = ["train", "--data", str(root), "--out", str(tmp_path / "cv"), "--folds", "2", "--epochs", "1",
            "--batch-size", "16", "--set", "model_cfg.widths=(4, 8)", "--set", "bf16=false", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2-fold subject-grouped cross-validation" in out and "| 2 |" in out
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert summary["folds_done"] == 2 and summary["pooled"]["n"] == len(subject_dataset)
    assert main(args[:-1] + ["--no-progress", "--resume", "x.pt"]) == 2
    assert "without --resume" in capsys.readouterr().err
