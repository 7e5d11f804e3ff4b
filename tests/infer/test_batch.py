import cv2
import numpy as np
import pytest

from ferkit.core.errors import OptionError
from ferkit.infer.batch import Annotator, expand_inputs


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


def test_empty_folder_and_folder_named_like_an_image_are_reported(tmp_path):
    (tmp_path / "photo.jpg").mkdir()
    (tmp_path / "empty").mkdir()
    items = expand_inputs([tmp_path / "photo.jpg", tmp_path / "empty"])
    assert len(items) == 2
    assert all("a folder with no image files" in i.error for i in items)


def test_annotating_into_an_input_folder_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(OptionError, match="inside the input folder"):
        Annotator(tmp_path / "in" / "annotated", input_folders=[tmp_path / "in"])
    with pytest.raises(OptionError, match="inside the input folder"):
        Annotator(tmp_path / "in", input_folders=[tmp_path / "in"])
    Annotator(tmp_path / "out", input_folders=[tmp_path / "in"])  # beside it is fine
