import csv
import json

import cv2
import numpy as np
import pytest

from ferkit.infer.batch import Annotator, expand_inputs
from ferkit.infer.writers import FACE_FIELDS, ResultWriter, face_rows, output_format

FACE = {
    "box": [1, 2, 3, 4], "score": 0.9, "emotions": {"angry": 0.5, "happy": 0.5}, "label": "angry",
    "sentiment": "negative", "sentiment_scores": {"negative": 0.5, "neutral": 0.0, "positive": 0.5},
}


def make_tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    img = np.zeros((8, 8, 3), np.uint8)
    for p in ("a/x.png", "a/b/y.JPG", "a/.hidden/z.png", "top.bmp"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / p), img)
    (tmp_path / "a" / "notes.txt").write_text("hi")
    return tmp_path


def test_expand_inputs_folders_globs_and_missing(tmp_path):
    root = make_tree(tmp_path)
    items = expand_inputs([root / "a", str(root / "*.bmp"), root / "missing.png", str(root / "nope*.png"),
                           root / "a" / "x.png"])
    paths = [i.path.name for i in items if not i.error]
    assert paths == ["y.JPG", "x.png", "top.bmp"]  # sorted, recursive, hidden skipped, no repeats
    assert [str(i.relative) for i in items if not i.error][:2] == ["a/b/y.JPG", "a/x.png"]
    errors = [i.error for i in items if i.error]
    assert "no such file" in errors[0] and "no file matches" in errors[1]
    recursive = expand_inputs([str(root / "**" / "*.png")])
    assert {i.path.name for i in recursive} == {"x.png"}


def test_annotator_never_overwrites_inputs_or_existing_files(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((8, 8, 3), np.uint8))
    before = src.read_bytes()
    same = Annotator(tmp_path, [src])
    out, note = same.write(src.relative_to(tmp_path), np.full((8, 8, 3), 255, np.uint8))
    assert "one of the inputs" in note and src.read_bytes() == before
    ann = Annotator(tmp_path / "ann", [src])
    out, note = ann.write(src.relative_to(tmp_path), np.full((8, 8, 3), 255, np.uint8))
    assert note is None and out.exists()
    out2, note2 = Annotator(tmp_path / "ann", [src]).write(src.relative_to(tmp_path), np.zeros((8, 8, 3), np.uint8))
    assert "exists, kept" in note2 and cv2.imread(str(out2)).mean() == 255
    out3, note3 = Annotator(tmp_path / "ann", [src], overwrite=True).write(src.relative_to(tmp_path), np.zeros((8, 8, 3), np.uint8))
    assert note3 is None and cv2.imread(str(out3)).mean() == 0
    # two inputs with the same name in one run get distinct outputs; odd suffixes become PNG
    out4, _ = ann.write(src.relative_to(tmp_path), np.zeros((8, 8, 3), np.uint8))
    assert out4.name == "in_2.png"
    assert ann.target(src.relative_to(tmp_path).with_suffix(".gif")).suffix == ".png"


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_writers(tmp_path, suffix):
    path = tmp_path / f"r{suffix}"
    records = [
        {"path": "a.png", "width": 10, "height": 10, "status": "ok", "error": None, "faces": [FACE, FACE]},
        {"path": "b.png", "width": None, "height": None, "status": "error", "error": "bad", "faces": []},
    ]
    with ResultWriter(path) as w:
        for r in records:
            w.write(r)
    if suffix == ".json":
        assert json.loads(path.read_text()) == records
    elif suffix == ".jsonl":
        assert [json.loads(line) for line in path.read_text().splitlines()] == records
    else:
        rows = list(csv.DictReader(path.open()))
        assert len(rows) == 3 and rows[0]["x"] == "1" and rows[1]["face"] == "1"
        assert rows[2]["error"] == "bad" and rows[2]["label"] == ""
        assert set(FACE_FIELDS) <= set(rows[0])
    with pytest.raises(FileExistsError):
        ResultWriter(path)
    ResultWriter(path, overwrite=True).close()


def test_writer_rejects_unknown_format_and_json_append(tmp_path):
    with pytest.raises(ValueError, match="must end in"):
        output_format(tmp_path / "r.txt")
    with pytest.raises(ValueError, match="appending"):
        ResultWriter(tmp_path / "r.json", append=True)
    assert face_rows({"path": "p", "faces": []})[0]["path"] == "p"
