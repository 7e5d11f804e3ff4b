import cv2
import numpy as np
import pytest

from ferkit.data import (
    FaceDataset,
    load_ckplus_npz,
    load_class_folders,
    load_dataset,
    load_fer2013_csv,
    load_fer2013_npz,
)
from ferkit.data.load import detect_format
from ferkit.core.labels import CKPLUS_CLASSES, EMOTIONS


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
    with pytest.raises(ValueError, match=r"\(N, H, W\) uint8"):
        load_fer2013_npz(path)
    np.savez(path, pictures=np.zeros((4, 48, 48), np.uint8))
    with pytest.raises(ValueError, match="missing arrays"):
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
    ds = load_class_folders(root, size=48)
    assert len(ds) == 3
    assert ds.images.shape == (3, 48, 48)
    assert ds.classes == ("happy", "sad")
    assert sorted(ds.split.tolist()) == ["test", "train", "train"]
    reasons = {p.where.split("/")[-1]: p.reason for p in ds.problems}
    assert "corrupt" in reasons["corrupt.png"] or "not a readable image" in reasons["corrupt.png"]
    assert reasons["empty.png"] == "empty file"
    assert "unknown class folder" in reasons["bored"]
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
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope.npz")
