import warnings

import cv2
import numpy as np
import pytest

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.labels import CKPLUS_CLASSES, EMOTIONS
from ferkit.data import (
    FaceDataset,
    load_ckplus_npz,
    load_class_folders,
    load_dataset,
    load_fer2013_csv,
    load_fer2013_npz,
)
from ferkit.data.dataset import DatasetWarning
from ferkit.data.load import detect_format


def pixels(value: int, n: int = 48 * 48) -> str:
    return " ".join([str(value)] * n)


def test_fer2013_csv_with_malformed_rows(tmp_path):
    path = tmp_path / "fer2013.csv"
    rows = [
        "emotion,pixels,Usage",
        f"3,{pixels(10)},Training",
        f"0,{pixels(20)},PublicTest",
        f"6,{pixels(30)},PrivateTest",
        f"9,{pixels(30)},Training",  # line 5: bad label
        f"2,{pixels(30, 100)},Training",  # line 6: wrong pixel count
        "4,1 2 x,Training",  # line 7: not numbers
    ]
    path.write_text("\n".join(rows) + "\n")
    ds = load_fer2013_csv(path)
    assert len(ds) == 3
    assert ds.labels.tolist() == [3, 0, 6]
    assert ds.split.tolist() == ["train", "val", "test"]
    assert ds.images[1].max() == 20 and ds.images.shape == (3, 48, 48)
    where = [p.where for p in ds.problems]
    assert where == [f"{path}:5", f"{path}:6", f"{path}:7"]
    assert "pixel values" in ds.problems[1].reason


def test_fer2013_csv_wrong_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        load_fer2013_csv(path)


def test_fer2013_npz(tmp_path):
    path = tmp_path / "f.npz"
    images = np.arange(4 * 48 * 48, dtype=np.uint8).reshape(4, 48, 48)
    np.savez(path, images=images, labels=np.array([0, 1, 2, 3]), usage=np.array([0, 0, 1, 2]))
    ds = load_fer2013_npz(path)
    assert ds.classes == EMOTIONS
    assert ds.split.tolist() == ["train", "train", "val", "test"]
    assert ds.select_split("test").labels.tolist() == [3]
    assert detect_format(path) == "fer2013-npz"


def test_npz_wrong_shape_is_clear(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 48), np.uint8), labels=np.zeros(4))
    with pytest.raises(InputError, match=r"\(N, H, W\) uint8"):
        load_fer2013_npz(path)
    np.savez(path, pictures=np.zeros((4, 48, 48), np.uint8))
    with pytest.raises(InputError, match="missing arrays"):
        load_dataset(path)


def test_ckplus_npz(tmp_path):
    path = tmp_path / "ck.npz"
    np.savez(
        path,
        images=np.zeros((3, 48, 48), np.uint8),
        labels=np.array([0, 7, 3]),
        subject=np.array(["S010", "S010", "S011"]),
    )
    ds = load_ckplus_npz(path)
    assert ds.classes == CKPLUS_CLASSES
    assert ds.groups.tolist() == ["S010", "S010", "S011"]
    assert detect_format(path) == "ckplus-npz"


def write_image(path, size=(60, 50), color=True, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((*size, 3) if color else size, value, np.uint8)
    cv2.imwrite(str(path), img)


def test_folders_with_splits_any_size_and_bad_files(tmp_path):
    root = tmp_path / "fer"
    write_image(root / "train" / "happy" / "a.png")
    write_image(root / "train" / "Sad" / "b.jpg", size=(100, 120))
    write_image(root / "test" / "happy" / "c.png", color=False)
    (root / "train" / "happy" / "corrupt.png").write_bytes(b"\x89PNG not really")
    (root / "train" / "happy" / "empty.png").write_bytes(b"")
    (root / "train" / "happy" / "notes.txt").write_text("hello")
    write_image(root / "train" / "bored" / "d.png")
    with pytest.warns(DatasetWarning, match="unknown class folder.*train/bored; known names: angry"):
        ds = load_class_folders(root, size=48)
    assert len(ds) == 3
    assert ds.images.shape == (3, 48, 48)
    assert ds.classes == ("happy", "sad")
    assert sorted(ds.split.tolist()) == ["test", "train", "train"]
    reasons = {p.where.split("/")[-1]: p.reason for p in ds.problems}
    assert "corrupt" in reasons["corrupt.png"] or "not a readable image" in reasons["corrupt.png"]
    assert reasons["empty.png"] == "empty file"
    assert "unknown class folder" in reasons["bored"] and "known: angry (anger)" in reasons["bored"]
    assert "notes.txt" in reasons


def test_folders_fixed_class_order_and_groups(tmp_path):
    root = tmp_path / "ck"
    write_image(root / "anger" / "S005_001_00000011.png")
    write_image(root / "happy" / "S010_002_00000003.png")
    ds = load_dataset(root)
    assert detect_format(root) == "ckplus-folders"
    assert ds.groups.tolist() == ["S005", "S010"]
    ds2 = load_class_folders(root, classes=EMOTIONS)
    assert ds2.classes == EMOTIONS and ds2.labels.tolist() == [0, 3]


def test_dataset_validation():
    with pytest.raises(ValueError, match="labels must be in"):
        FaceDataset(np.zeros((2, 4, 4), np.uint8), [0, 9], EMOTIONS)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        FaceDataset(np.zeros((2, 4, 4), np.uint8), [0, 1, 2], EMOTIONS)
    ds = FaceDataset(np.zeros((2, 4, 4), np.uint8), [0, 1], EMOTIONS)
    with pytest.raises(ValueError, match="no official"):
        ds.select_split("test")


def test_missing_path(tmp_path):
    with pytest.raises(MissingInputError, match="nope.npz"):
        load_dataset(tmp_path / "nope.npz")
    for loader in (load_fer2013_csv, load_fer2013_npz, load_ckplus_npz, load_class_folders):
        with pytest.raises(MissingInputError):
            loader(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="unknown dataset format"):
        load_dataset(tmp_path / "x.txt")
    with pytest.raises(InputError, match="not a folder"):
        load_class_folders(tmp_path / "x.txt")
    with pytest.raises(OptionError, match="format"):
        load_dataset(tmp_path / "x.txt", format="imagenet")


# --- FER2013 CSV: Usage, byte-order mark, line numbers ------------------------------------------


def write_csv(path, rows, header="emotion,pixels,Usage", bom=False, newline="\n"):
    text = newline.join([header, *rows]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_fer2013_csv_row_without_usage_refuses_the_file_naming_the_lines(tmp_path):
    rows = [f"{k % 7},{pixels(k)},Training" for k in range(6)]
    rows[1] = f"1,{pixels(1)},"  # line 3: no Usage
    rows[4] = f"4,{pixels(4)},Validation"  # line 6: unknown Usage
    path = write_csv(tmp_path / "fer.csv", rows)
    with pytest.raises(InputError) as exc:
        load_fer2013_csv(path)
    msg = str(exc.value)
    assert str(path) in msg and "2 row(s)" in msg and "lines 3, 6" in msg
    assert "'Validation'" in msg and "Training, PublicTest or PrivateTest" in msg


def test_fer2013_csv_usage_error_lists_the_first_lines_and_a_count(tmp_path):
    rows = [f"0,{pixels(k)}," for k in range(9)] + [f"0,{pixels(9)},PrivateTest"]
    with pytest.raises(InputError, match=r"9 row\(s\).*lines 2, 3, 4, 5, 6 and 4 more"):
        load_fer2013_csv(write_csv(tmp_path / "fer.csv", rows))


def test_fer2013_csv_without_usage_values_has_no_split(tmp_path):
    no_column = load_fer2013_csv(write_csv(tmp_path / "a.csv", [f"3,{pixels(1)}", f"4,{pixels(2)}"], "emotion,pixels"))
    empty_column = load_fer2013_csv(write_csv(tmp_path / "b.csv", [f"3,{pixels(1)},", f"4,{pixels(2)},"]))
    for ds in (no_column, empty_column):
        assert len(ds) == 2 and ds.split is None and not ds.has_official_split
        with pytest.raises(OptionError, match="no official 'test' split"):
            ds.select_split("test")


def test_fer2013_csv_from_excel_with_byte_order_mark_and_crlf(tmp_path):
    rows = [f"3,{pixels(10)},Training", f"0,{pixels(20)},PublicTest", f"6,{pixels(30)},PrivateTest"]
    path = write_csv(tmp_path / "excel.csv", rows, header="emotion,pixels,Usage", bom=True, newline="\r\n")
    ds = load_fer2013_csv(path)
    assert ds.labels.tolist() == [3, 0, 6] and ds.split.tolist() == ["train", "val", "test"]
    assert not ds.problems
    # header names in another case, with a BOM, still found
    ds = load_fer2013_csv(write_csv(tmp_path / "upper.csv", rows, header="Emotion, Pixels ,USAGE", bom=True))
    assert ds.split.tolist() == ["train", "val", "test"]


def test_fer2013_csv_bad_emotion_and_pixel_count_name_their_line(tmp_path):
    rows = [
        f"3,{pixels(10)},Training",
        f"x,{pixels(10)},Training",  # line 3
        f",{pixels(10)},Training",  # line 4
        f"7,{pixels(10)},Training",  # line 5
        f"2,{pixels(10, 47 * 48)},Training",  # line 6
        f"2,{pixels(300)},Training",  # line 7
        f"2,{pixels(1)} 1.5,Training",  # line 8
        "",  # a blank line is not a problem
        f"5,{pixels(10)},PrivateTest",  # line 10
    ]
    ds = load_fer2013_csv(write_csv(tmp_path / "fer.csv", rows))
    assert ds.labels.tolist() == [3, 5] and ds.split.tolist() == ["train", "test"]
    reasons = {p.where.rsplit(":", 1)[1]: p.reason for p in ds.problems}
    assert set(reasons) == {"3", "4", "5", "6", "7", "8"}
    assert "emotion 'x' is not a number in 0..6" in reasons["3"]
    assert "emotion '' is not a number" in reasons["4"]
    assert "emotion 7 not in 0..6" in reasons["5"]
    assert "2256 pixel values, expected 2304 (48x48)" in reasons["6"]
    assert "outside 0..255" in reasons["7"]
    assert "whole numbers" in reasons["8"]


def test_fer2013_csv_unusable_files(tmp_path):
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"emotion,pixels\n\xff\xfe\x00garbage\n")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_fer2013_csv(binary)
    with pytest.raises(InputError, match=r"no usable rows \(1 malformed; first: .*:2: malformed row"):
        load_fer2013_csv(write_csv(tmp_path / "bad.csv", ["9,1 2 3,Training"]))
    with pytest.raises(InputError, match="expected columns emotion,pixels"):
        load_fer2013_csv(write_csv(tmp_path / "cols.csv", ["1,2"], header="label,image"))


# --- folders of class folders --------------------------------------------------------------------


def test_empty_class_folder_is_named_in_a_warning(tmp_path):
    root = tmp_path / "faces"
    write_image(root / "happy" / "a.png")
    (root / "sad").mkdir()
    (root / "angry").mkdir()
    (root / "angry" / "broken.png").write_bytes(b"not a png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_class_folders(root)
    messages = [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]
    assert any(f"{root / 'sad'}: class folder is empty" in m for m in messages)
    assert any(f"{root / 'angry'}: class folder has no readable image" in m for m in messages)
    assert ds.classes == ("angry", "happy", "sad") and ds.labels.tolist() == [1]
    reasons = {p.where: p.reason for p in ds.problems}
    assert reasons[str(root / "sad")] == "empty class folder (no files)"
    assert reasons[str(root / "angry")] == "class folder has no readable image"


def test_empty_class_folder_in_a_split_and_in_ckplus_folders(tmp_path):
    root = tmp_path / "fer"
    write_image(root / "train" / "happy" / "a.png")
    write_image(root / "test" / "happy" / "b.png")
    (root / "test" / "surprise").mkdir(parents=True)
    with pytest.warns(DatasetWarning, match=r"test/surprise: class folder is empty; its class has no images in this"):
        ds = load_class_folders(root)
    assert sorted(ds.split.tolist()) == ["test", "train"]
    ck = tmp_path / "ck"
    write_image(ck / "anger" / "S005_001_00000011.png")
    (ck / "contempt").mkdir()
    with pytest.warns(DatasetWarning, match="contempt: class folder is empty"):
        ds = load_dataset(ck, progress=False)
    assert ds.groups.tolist() == ["S005"] and ds.classes == ("angry", "contempt")


def test_dataset_with_no_images_at_all_is_an_input_error(tmp_path):
    root = tmp_path / "faces"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    with pytest.raises(InputError, match=r"no readable images; every class folder is empty or unreadable .*happy.*sad"):
        load_class_folders(root)
    with pytest.raises(InputError, match=r"no class folders found .*class names: angry \(anger\)"):
        load_class_folders(tmp_path / "faces" / "happy")


def test_unknown_class_folders_say_which_names_are_known(tmp_path):
    root = tmp_path / "faces"
    write_image(root / "bored" / "a.png")
    write_image(root / "Excited" / "b.png")
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not class folders
    with pytest.raises(InputError) as exc:
        load_class_folders(root)
    msg = str(exc.value)
    assert "2 unknown class folder(s) and no known one: Excited, bored" in msg
    assert "known names: angry (anger), disgust (disgusted), fear (afraid, fearful), happy (happiness, joy)" in msg
    assert ".ipynb" not in msg
    with pytest.raises(OptionError, match=r"classes \['bored'\] are not emotion names; known: angry"):
        load_class_folders(root, classes=("happy", "bored"))
    write_image(root / "happy" / "c.png")
    with pytest.warns(DatasetWarning, match="2 unknown class folder"), \
            pytest.raises(InputError, match=r"class folders \['happy'\] are not in classes"):
        load_class_folders(root, classes=("sad",))


# --- npz files of the wrong shape ---------------------------------------------------------------


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": np.zeros((4, 48, 48), np.uint8)}, r"missing arrays \['labels'\] \(has \['images'\]\)"),
        ({"images": np.zeros((4, 48 * 48), np.uint8), "labels": np.zeros(4, int)},
         r"images must be \(N, H, W\) uint8 \(grayscale\), got shape \(4, 2304\) dtype uint8"),
        ({"images": np.zeros((4, 48, 48, 3), np.uint8), "labels": np.zeros(4, int)}, r"got shape \(4, 48, 48, 3\)"),
        ({"images": np.zeros((4, 48, 48), np.float32), "labels": np.zeros(4, int)}, "dtype float32"),
        ({"images": np.zeros((4, 48, 48), np.uint8), "labels": np.array([0, 1, 7, -1])},
         r"labels must be in 0..6 \(angry, .*neutral\); 2 are not \(values \[-1, 7\] at indices \[2, 3\]\)"),
        ({"images": np.zeros((4, 48, 48), np.uint8), "labels": np.zeros(3, int)}, "4 images but 3 labels"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.array([0.0, 1.5])}, "whole numbers"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.array(["a", "b"])}, "labels must be integers"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.zeros((2, 1), int)}, "one-dimensional"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.zeros(2, int), "usage": np.array([0, 3])},
         r"usage codes must be 0 \(train\), 1 \(val\) or 2 \(test\), got \[3\]"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.zeros(2, int), "usage": np.array([0, 1, 2])},
         r"'usage' has shape \(3,\), expected \(2,\): one entry per image"),
        ({"images": np.zeros((2, 48, 48), np.uint8), "labels": np.zeros(2, int), "source_id": np.zeros(5)},
         r"'source_id' has shape \(5,\)"),
    ],
)
def test_fer2013_npz_of_the_wrong_shape(tmp_path, arrays, message):
    path = save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message) as exc:
        load_fer2013_npz(path)
    assert str(path) in str(exc.value)


def test_ckplus_npz_of_the_wrong_shape(tmp_path):
    ok = {"images": np.zeros((3, 48, 48), np.uint8), "labels": np.array([0, 7, 3]),
          "subject": np.array(["a", "b", "c"])}
    with pytest.raises(InputError, match=r"labels must be in 0..7 .*values \[8\]"):
        load_ckplus_npz(save(tmp_path / "a.npz", **{**ok, "labels": np.array([0, 8, 3])}))
    with pytest.raises(InputError, match=r"'subject' has shape \(2,\), expected \(3,\)"):
        load_ckplus_npz(save(tmp_path / "b.npz", **{**ok, "subject": np.array(["a", "b"])}))
    with pytest.raises(InputError, match=r"label_names \['bored'\] are not emotion names"):
        load_ckplus_npz(save(tmp_path / "c.npz", **ok, label_names=np.array(["angry", "bored"])))
    with pytest.raises(InputError, match=r"missing arrays \['subject'\]"):
        load_ckplus_npz(save(tmp_path / "d.npz", images=ok["images"], labels=ok["labels"]))
    names = np.array(["Anger", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt"])
    ds = load_ckplus_npz(save(tmp_path / "e.npz", **ok, label_names=names))
    assert ds.classes == CKPLUS_CLASSES


def test_npz_that_is_not_an_npz(tmp_path):
    fake = tmp_path / "fake.npz"
    fake.write_bytes(b"hello, not a zip file")
    with pytest.raises(InputError, match="not a readable .npz file"):
        load_dataset(fake)
    objects = tmp_path / "objects.npz"
    np.savez(objects, images=np.array([np.zeros((2, 2)), None], dtype=object), labels=np.zeros(2, int))
    with pytest.raises(InputError, match="'images' holds Python objects"):
        load_fer2013_npz(objects)
