import csv
import json

import cv2
import numpy as np
import pytest

from ferkit.cli import main
from ferkit.core.errors import OptionError
from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset, load_dataset
from ferkit.data.dedupe import dedupe_dataset, plan_removals


def distinct(n, seed=0):
    """Faces a perceptual hash tells apart: smooth random patterns."""
    rng = np.random.default_rng(seed)
    return np.stack([cv2.resize(rng.integers(0, 256, (6, 6)).astype(np.uint8), (48, 48),
                                interpolation=cv2.INTER_CUBIC) for _ in range(n)])


def leaky() -> FaceDataset:
    """12 images: train 0-5, val 6-8, test 9-11; train 1 = test 9 exactly, train 2 = val 6 mirrored,
    test 11 = test 10 exactly, train 4 = train 3 slightly changed (sad, and happy)."""
    images = distinct(12)
    images[1] = images[9]
    images[2] = images[6, :, ::-1]
    images[11] = images[10]
    images[4] = np.clip(images[3].astype(int) + 2, 0, 255).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 0, 1, 1, 3, 3])
    split = np.array(["train"] * 6 + ["val"] * 3 + ["test"] * 3)
    return FaceDataset(images, labels, EMOTIONS, split=split, name="leaky")


def test_each_group_keeps_one_image_preferring_test_then_val():
    rows = {r["index"]: r for r in plan_removals(leaky())}
    assert sorted(rows) == [1, 2, 4, 11]
    assert rows[1]["kept_index"] == 9 and rows[1]["kind"] == "exact"
    assert rows[1]["reason"] == "a training image duplicating a test image"
    assert rows[2]["kept_index"] == 6 and rows[2]["kind"] == "near"
    assert rows[11]["kept_index"] == 10 and rows[11]["reason"] == "duplicates another image of the dataset"
    assert rows[4]["kept_index"] == 3 and "labels differ: sad vs happy" in rows[4]["reason"]


def test_clean_npz_and_csv(tmp_path):
    ds = leaky()
    summary = dedupe_dataset(ds, tmp_path / "clean.npz")
    assert summary["kept"] == 8 and summary["removed"] == 4 and summary["training_images_duplicating_test"] == 1
    clean = load_dataset(tmp_path / "clean.npz", progress=False)
    assert len(clean) == 8 and (clean.split == "test").sum() == 2 and (clean.split == "train").sum() == 3
    with (tmp_path / "clean.removed.csv").open(newline="") as fh:
        assert [int(r["index"]) for r in csv.DictReader(fh)] == [1, 2, 4, 11]


def test_clean_folder_and_refusals(tmp_path, capsys):
    ds = leaky()
    dedupe_dataset(ds, tmp_path / "clean")
    again = load_dataset(tmp_path / "clean", progress=False)
    assert len(again) == 8 and sorted(set(again.split)) == ["test", "train", "val"]
    assert (tmp_path / "clean" / "removed.csv").exists()
    eight = FaceDataset(ds.images, ds.labels, (*EMOTIONS, "contempt"), split=ds.split, name="ck")
    with pytest.raises(OptionError, match="give a folder"):
        dedupe_dataset(eight, tmp_path / "ck.npz")
    npz = tmp_path / "leaky.npz"
    np.savez(npz, images=ds.images, labels=ds.labels, usage=np.array([0] * 6 + [1] * 3 + [2] * 3))
    assert main(["data", "dedupe", str(npz), "--out", str(tmp_path / "clean"), "--no-progress"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["data", "dedupe", str(npz), "--out", str(tmp_path / "c.npz"), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == 4
    assert main(["data", "dedupe", str(npz), "--out", str(tmp_path / "c.npz"), "--no-progress"]) == 2
    assert "exist" in capsys.readouterr().err
    assert main(["data", "dedupe", str(npz), "--out", str(npz), "--no-progress"]) == 2
