import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import ferkit
from ferkit.cli import main
from ferkit.core.labels import EMOTIONS

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    shutil.copy(SAMPLE, d / "astronaut.png")
    img = cv2.imread(str(SAMPLE))
    ok, jpg = cv2.imencode(".jpg", img)
    (d / "sub" / "astronaut.jpg").write_bytes(jpg.tobytes())
    (d / "sub" / "truncated.jpg").write_bytes(jpg.tobytes()[: len(jpg) // 2])
    (d / "corrupt.png").write_bytes(SAMPLE.read_bytes()[:2000])
    (d / "notes.png").write_text("not an image at all")
    (d / "empty.png").write_bytes(b"")
    cv2.imwrite(str(d / "blank.png"), np.full((120, 160, 3), 128, np.uint8))
    return d


def test_analyze_folder_with_good_and_bad_files(inputs, tmp_path, capsys):
    out = tmp_path / "res.json"
    before = {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()}
    code = main(["analyze", str(inputs), str(tmp_path / "missing.jpg"), "--out", str(out),
                 "--annotate", str(tmp_path / "ann")])
    err = capsys.readouterr().err
    assert code == 1
    records = {Path(r["path"]).name: r for r in json.loads(out.read_text())}
    assert len(records) == 8
    for name in ("astronaut.png", "astronaut.jpg"):
        r = records[name]
        assert r["status"] == "ok" and r["error"] is None and (r["width"], r["height"]) == (512, 512)
        face = r["faces"][0]
        assert set(face) >= {"box", "score", "emotions", "label", "sentiment"}
        assert list(face["emotions"]) == list(EMOTIONS) and face["label"] == "happy"
        assert Path(r["annotated"]).exists()
    assert records["blank.png"]["status"] == "no_face" and records["blank.png"]["error"] is None
    reasons = {
        "truncated.jpg": "truncated JPEG", "corrupt.png": "not a readable image", "notes.png": "not a readable image",
        "empty.png": "empty file", "missing.jpg": "no such file",
    }
    for name, reason in reasons.items():
        assert records[name]["status"] == "error" and reason in records[name]["error"], name
        assert name in err
    # annotated copies mirror the folder; the inputs are untouched
    assert (tmp_path / "ann" / "photos" / "sub" / "astronaut.jpg").exists()
    assert all(p.read_bytes() == data for p, data in before.items())
    # an existing results file is kept unless --overwrite
    assert main(["analyze", str(inputs / "astronaut.png"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and err.count("\n") == 1


def test_analyze_csv_and_jsonl(inputs, tmp_path):
    good = [str(inputs / "astronaut.png"), str(inputs / "blank.png")]
    assert main(["analyze", *good, "--out", str(tmp_path / "r.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(rows) == 2 and rows[0]["label"] == "happy" and rows[1]["status"] == "no_face"
    assert abs(sum(float(rows[0][c]) for c in EMOTIONS) - 1) < 1e-9
    assert main(["analyze", *good, "--out", str(tmp_path / "r.jsonl"), "--detector", "haar"]) == 0
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["status"] for r in lines] == ["ok", "no_face"]


def test_analyze_prints_without_out(inputs, capsys):
    assert main(["analyze", str(inputs / "astronaut.png")]) == 0
    out = capsys.readouterr().out
    assert "1 face(s): happy" in out


def test_annotate_keeps_existing_and_never_writes_over_inputs(inputs, capsys):
    target = inputs  # annotating into the folder of an input file
    img = inputs / "astronaut.png"
    before = img.read_bytes()
    assert main(["analyze", str(img), "--annotate", str(target), "--overwrite"]) == 0
    assert img.read_bytes() == before
    assert "one of the inputs" in capsys.readouterr().err
    # into an input folder given as such: refused before any work, so outputs are never read back as inputs
    assert main(["analyze", str(inputs), "--annotate", str(inputs / "annotated")]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert not (inputs / "annotated").exists()


def test_unwritable_output_is_found_before_the_batch(inputs, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["analyze", str(inputs), "--out", str(blocker / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create its folder" in err


def test_ctrl_c_in_an_image_batch_keeps_what_was_done(inputs, tmp_path, capsys, monkeypatch):
    from ferkit.infer.recognizer import Recognizer

    original, calls = Recognizer.analyze_or_record, {"n": 0}

    def stop_on_third(self, image):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, image)

    monkeypatch.setattr(Recognizer, "analyze_or_record", stop_on_third)
    out = tmp_path / "r.jsonl"
    assert main(["analyze", str(inputs), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted after 2 of 7 images" in err and "Traceback" not in err
    assert len(out.read_text().splitlines()) == 2


def test_eight_class_model_keeps_contempt_in_csv(tmp_path):
    import torch

    from ferkit.core.labels import CKPLUS_CLASSES
    from ferkit.export import export_onnx
    from ferkit.models import create
    from ferkit.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", create("vgg_compact", num_classes=8, widths=(4, 8)), CKPLUS_CLASSES,
                           {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25})
    onnx = export_onnx(ckpt, tmp_path / "m.onnx")
    assert main(["analyze", str(SAMPLE), "--model", str(onnx), "--out", str(tmp_path / "r.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert "contempt" in rows[0] and abs(sum(float(rows[0][c]) for c in CKPLUS_CLASSES) - 1) < 1e-9
