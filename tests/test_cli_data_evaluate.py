"""`ferkit data info` and `ferkit evaluate`: outputs (--out, --overwrite), --json, --no-progress, errors."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ferkit.cli import main
from ferkit.core.labels import EMOTIONS


def fer_csv(path, usages=("Training",) * 8):
    rows = [f"{k % 7},{' '.join([str(k * 9)] * 2304)},{u}" for k, u in enumerate(usages)]
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return path


def test_help_imports_no_heavy_library():
    code = """
import sys
from ferkit.cli import main
for argv in (["--help"], ["data", "info", "--help"], ["evaluate", "--help"], ["score-videos", "--help"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, argv
heavy = sorted(m for m in ("torch", "sklearn", "matplotlib", "ferkit.evaluate", "ferkit.data", "ferkit.video.scoring")
               if m in sys.modules)
assert not heavy, heavy
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--no-progress" in done.stdout and "--overwrite" in done.stdout


def test_data_info_out_overwrite_and_json(tmp_path, capsys):
    data = fer_csv(tmp_path / "f.csv", ["Training"] * 6 + ["PublicTest", "PrivateTest"])
    out = tmp_path / "reports" / "info.json"
    assert main(["data", "info", str(data), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "fer2013: 8 images [48, 48] uint8" in captured.out
    assert f"wrote {out}" in captured.err
    info = json.loads(out.read_text())
    assert info["n"] == 8 and info["counts"]["val"]["neutral"] == 1
    # an existing report is kept unless --overwrite
    out.write_text("keep me")
    assert main(["data", "info", str(data), "--out", str(out)]) == 2
    assert f"{out}: exists; use --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["data", "info", str(data), "--out", str(out), "--overwrite", "--json", "--no-duplicates"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) and "duplicates" not in printed
    # --json takes no value: the old `--json PATH` is refused by the parser
    with pytest.raises(SystemExit) as exc:
        main(["data", "info", str(data), "--json", str(tmp_path / "x.json")])
    assert exc.value.code == 2
    assert main(["data", "info", str(data), "--out", str(data), "--overwrite"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err


def test_data_info_reports_a_row_without_usage_and_an_empty_class_folder(tmp_path, capsys):
    data = fer_csv(tmp_path / "f.csv", ["Training", "", "PublicTest", "Training"])
    assert main(["data", "info", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ferkit data: error: ") and "1 row(s) have no Usage value" in err and "lines 3" in err
    root = tmp_path / "faces"
    (root / "happy").mkdir(parents=True)
    cv2.imwrite(str(root / "happy" / "a.png"), np.full((30, 30), 100, np.uint8))
    (root / "sad").mkdir()
    (root / "bored").mkdir()
    assert main(["data", "info", str(root), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"warning: {root / 'sad'}: class folder is empty" in captured.err
    assert "unknown class folder(s) skipped: bored; known names: angry (anger)" in captured.err
    assert "skipped 2 items" in captured.out


class StubClassifier:
    """Stands in for EmotionClassifier: a 8px model predicting the class of each image's first pixel."""

    classes = EMOTIONS
    image_size = 8
    calls = 0

    def __init__(self, path=None, threads=0):
        self.path = path
        StubClassifier.calls += 1

    def predict_proba(self, faces, tta="none", batch_size=256):
        probs = np.full((len(faces), 7), 0.01)
        probs[np.arange(len(faces)), faces.reshape(len(faces), -1)[:, 0] % 7] = 0.94
        return probs


@pytest.fixture
def stub_model(monkeypatch):
    import ferkit.evaluate.evaluator as ev

    monkeypatch.setattr(ev, "EmotionClassifier", StubClassifier)
    StubClassifier.calls = 0
    return StubClassifier


def small_npz(path, size=8, n=20):
    images = np.stack([np.full((size, size), v, np.uint8) for v in range(n)])
    np.savez(path, images=images, labels=(np.arange(n) + (np.arange(n) % 2)) % 7,
             usage=np.array([0] * (n // 2) + [1] * (n // 4) + [2] * (n - n // 2 - n // 4)))
    return path


def test_evaluate_out_writes_three_files_and_keeps_them(tmp_path, stub_model, capsys):
    data = small_npz(tmp_path / "d.npz")
    out = tmp_path / "rep" / "report.json"
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Evaluation: stub on fer2013:test (test, TTA none)")
    md, png = out.with_name("report.md"), out.with_name("report_confusion.png")
    for path in (out, md, png):
        assert path.exists() and f"wrote {path}" in captured.err
    report = json.loads(out.read_text())
    assert report["n"] == 5 and report["split"] == "test"
    assert md.read_text() == captured.out and png.stat().st_size > 1000
    # any one of the three existing refuses the run, before the model is even loaded
    out.unlink()
    md.unlink()
    stub_model.calls = 0
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(out)]) == 2
    assert f"{png}: exists; use --overwrite to replace it" in capsys.readouterr().err
    assert stub_model.calls == 0 and not out.exists()
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(out), "--split", "all", "--overwrite",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) and printed["n"] == 20 and md.exists()
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(out)]) == 2
    assert f"{out}, {md}, {png}: exist; use --overwrite to replace them" in capsys.readouterr().err


def test_evaluate_json_without_out_and_clear_errors(tmp_path, stub_model, capsys):
    data = small_npz(tmp_path / "d.npz")
    assert main(["evaluate", "stub", "--data", str(data), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 5
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(tmp_path / "r.md")]) == 2
    assert "must end in .json" in capsys.readouterr().err
    assert main(["evaluate", "stub", "--data", str(tmp_path / "none.npz")]) == 2
    assert "none.npz: no such file" in capsys.readouterr().err
    assert main(["evaluate", "stub", "--data", str(small_npz(tmp_path / "big.npz", size=16))]) == 2
    assert "images are 16x16, the model expects 8x8 faces" in capsys.readouterr().err
    assert main(["evaluate", "stub", "--data", str(data), "--batch-size", "0"]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err


def test_evaluate_the_bundled_model_by_file_and_by_name(tmp_path, capsys):
    from ferkit.infer.classifier import DEFAULT_MODEL

    data = small_npz(tmp_path / "d.npz", size=48)
    assert main(["evaluate", str(DEFAULT_MODEL), "--data", str(data), "--json", "--no-progress"]) == 0
    by_file = json.loads(capsys.readouterr().out)
    assert by_file["n"] == 5 and by_file["classes"] == list(EMOTIONS)
    assert main(["evaluate", "default", "--data", str(data), "--json", "--no-progress"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    assert by_name["accuracy"] == by_file["accuracy"]


def test_data_info_on_an_npz_with_no_images(tmp_path, capsys):
    data = tmp_path / "empty.npz"
    np.savez(data, images=np.zeros((0, 48, 48), np.uint8), labels=np.zeros(0, np.int64))
    assert main(["data", "info", str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data}: no images" in err and "Traceback" not in err


def test_outputs_under_a_file_or_in_a_read_only_place_are_refused_first(tmp_path, stub_model, capsys):
    import os

    data = small_npz(tmp_path / "d.npz")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["data", "info", str(data), "--out", str(blocker / "info.json")]) == 2
    assert "cannot create its folder" in capsys.readouterr().err
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(blocker / "sub" / "r.json")]) == 2
    assert "cannot create its folder" in capsys.readouterr().err and stub_model.calls == 0
    assert main(["evaluate", "stub", "--data", str(data), "--out", str(tmp_path)]) == 2  # not a .json
    assert main(["data", "info", str(data), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert main(["evaluate", "stub", "--data", str(data), "--out", str(ro / "r.json")]) == 2
            assert "no permission" in capsys.readouterr().err and stub_model.calls == 0
            assert main(["data", "info", str(data), "--out", str(ro / "i.json")]) == 2
            assert "no permission" in capsys.readouterr().err
        finally:
            ro.chmod(0o700)
        assert not list(ro.iterdir())


def test_models_with_a_pattern_matching_nothing(capsys):
    assert main(["models", "nomatch"]) == 0
    out = capsys.readouterr().out
    assert "no model or detector matches 'nomatch'" in out and "description" not in out
    assert main(["models", "haar*"]) == 0
    out = capsys.readouterr().out
    assert "haar" in out and "mini_xception" not in out and "blazeface" not in out
