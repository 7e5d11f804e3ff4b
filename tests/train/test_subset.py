import json

import numpy as np
import pytest
from training_data import digest, imbalanced, tiny_config

from ferkit.core.errors import InputError, OptionError
from ferkit.data import FaceDataset
from ferkit.data.duplicates import near_duplicates_of
from ferkit.train import TrainConfig
from ferkit.train.subset import stratified_limit
from ferkit.train.trainer import Trainer


def textured(n: int, seed: int) -> np.ndarray:
    """Distinct smooth random faces (pHash sees them as different images)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(n, 6, 6)).astype(np.uint8)
    return np.stack([cv2.resize(s, (48, 48), interpolation=cv2.INTER_CUBIC) for s in small])


def test_near_duplicates_of_finds_copies_mirrors_and_slightly_changed_images():
    refs = textured(5, seed=1)
    others = textured(6, seed=2)
    noisy = np.clip(refs[1].astype(int) + np.random.default_rng(0).integers(-2, 3, refs[1].shape), 0, 255)
    images = np.concatenate([others, refs[:1], refs[2:3, :, ::-1], noisy[None].astype(np.uint8)])
    hit = near_duplicates_of(images, refs)
    assert hit.tolist() == [False] * 6 + [True, True, True]
    assert not near_duplicates_of(images, refs, mirrored=False)[7]


def with_leaks() -> tuple[FaceDataset, np.ndarray]:
    """A dataset whose training split holds a copy of two validation images and a mirror of a test image."""
    images = textured(30, seed=5)
    split = np.array(["train"] * 20 + ["val"] * 5 + ["test"] * 5)
    labels = np.arange(30) % 3
    images[3] = images[21]
    images[7] = images[22]
    images[11] = images[27, :, ::-1]
    return FaceDataset(images, labels, ("a", "b", "c"), split=split, name="leaky"), np.array([3, 7, 11])


def test_exclude_test_near_duplicates_drops_only_those_training_images(tmp_path):
    ds, leaked = with_leaks()
    before = {part: digest(ds, part) for part in ("val", "test")}
    trainer = Trainer(tiny_config(tmp_path, exclude_test_near_duplicates=True), dataset=ds, progress=False)
    assert sorted(set(range(20)) - set(trainer.train_idx.tolist())) == leaked.tolist()
    assert len(trainer.val_idx) == 5 and {part: digest(ds, part) for part in ("val", "test")} == before
    trainer.fit()
    record = json.loads((tmp_path / "train_set.json").read_text())
    assert record["exclude_test_near_duplicates"]["dropped"] == 3
    assert record["training_split"] == 20 and record["trained_on"] == 17
    plain = Trainer(tiny_config(tmp_path / "plain"), dataset=ds, progress=False)
    assert len(plain.train_idx) == 20


def test_train_limit_is_stratified_seeded_and_leaves_validation_alone(tmp_path):
    ds = imbalanced(train_counts=(60, 30, 10))
    trainer = Trainer(tiny_config(tmp_path, train_limit=20), dataset=ds, progress=False)
    counts = np.bincount(ds.labels[trainer.train_idx], minlength=3)
    assert counts.tolist() == [12, 6, 2]
    assert (ds.split[trainer.train_idx] == "train").all() and len(trainer.val_idx) == 9
    again = Trainer(tiny_config(tmp_path / "again", train_limit=20), dataset=ds, progress=False)
    assert again.train_idx.tolist() == trainer.train_idx.tolist()
    other = Trainer(tiny_config(tmp_path / "other", train_limit=20, seed=4), dataset=ds, progress=False)
    assert other.train_idx.tolist() != trainer.train_idx.tolist()


def test_stratified_limit_edge_cases():
    labels = np.array([0] * 50 + [1] * 3 + [2] * 1)
    idx = np.arange(54)
    picked = stratified_limit(labels, idx, 10, seed=0)
    assert len(picked) == 10 and set(labels[picked]) == {0, 1, 2}
    assert stratified_limit(labels, idx, 100, seed=0).tolist() == idx.tolist()
    with pytest.raises(InputError, match="smaller than the 3 classes"):
        stratified_limit(labels, idx, 2, seed=0)
    with pytest.raises(OptionError, match="train_limit must be"):
        TrainConfig(train_limit=-1)
    with pytest.raises(OptionError, match="exclude_test_near_duplicates must be"):
        TrainConfig(exclude_test_near_duplicates="yes")
