import json
import logging
import sys

import numpy as np
import pytest
from training_data import CLASSES, digest, imbalanced, tiny_config

from ferkit.core.errors import InputError, OptionError
from ferkit.train import TrainConfig, train
from ferkit.train import balance as balance_mod
from ferkit.train.balance import resample, sampler_order
from ferkit.train.trainer import Trainer


def test_bad_balance_values_are_refused_at_construction():
    with pytest.raises(OptionError, match="balance must be one of none, class_weights, sampler, ros"):
        TrainConfig(balance="adasyn")
    with pytest.raises(OptionError, match="both correct the class imbalance"):
        TrainConfig(balance="ros", class_weights="balanced")
    with pytest.raises(OptionError, match="balance_pca applies to"):
        TrainConfig(balance="ros", balance_pca=8)
    with pytest.raises(OptionError, match="balance_pca must be"):
        TrainConfig(balance="smote", balance_pca=-1)
    assert TrainConfig(balance="class_weights", class_weights="sqrt").class_weights == "sqrt"
    assert TrainConfig(balance="smote", balance_pca=4).balance_pca == 4


@pytest.mark.parametrize("method", ["none", "class_weights", "sampler", "ros", "smote", "smote_tomek", "smote_enn"])
def test_validation_and_test_data_are_untouched(tmp_path, method):
    ds = imbalanced()
    before = {p: digest(ds, p) for p in ("val", "test", "train")}
    t = Trainer(tiny_config(tmp_path / "run", balance=method), dataset=ds, progress=False)
    val_idx = t.val_idx.copy()
    t._train_epoch()
    assert {p: digest(ds, p) for p in ("val", "test", "train")} == before
    np.testing.assert_array_equal(t.val_idx, val_idx)
    assert set(ds.split[t.val_idx]) == {"val"} and set(ds.split[t.train_idx]) == {"train"}
    if method in ("ros", "smote", "smote_tomek", "smote_enn"):
        assert t.train_images.dtype == np.uint8 and t.train_images.shape[1:] == (48, 48)
    else:
        assert t.train_images is None
    if method == "class_weights":
        assert t.weights is not None and t.weights[2] > t.weights[0]  # the rare class weighs more
    elif method != "none":
        assert t.weights is None


def test_ros_equalises_to_the_largest_class_and_writes_balance_json(tmp_path):
    ds = imbalanced()
    t = Trainer(tiny_config(tmp_path / "run", balance="ros"), dataset=ds, progress=False)
    assert np.bincount(t.train_labels).tolist() == [24, 24, 24]
    assert t.steps_per_epoch == 72 // 16
    t.fit()
    record = json.loads((tmp_path / "run" / "balance.json").read_text())
    assert record["method"] == "ros"
    assert record["before"] == {"a": 24, "b": 8, "c": 4}
    assert record["after"] == {"a": 24, "b": 24, "c": 24}
    assert record["seconds"] >= 0


def test_smote_makes_new_uint8_images(tmp_path, caplog):
    ds = imbalanced()
    m = ds.split == "train"
    x, y = ds.images[m], ds.labels[m]
    with caplog.at_level(logging.INFO, logger="ferkit.train"):
        new_x, new_y, record = resample(x, y, CLASSES, "smote", seed=1)
    assert new_x.dtype == np.uint8 and new_x.shape == (72, 48, 48)
    assert np.bincount(new_y).tolist() == [24, 24, 24]
    np.testing.assert_array_equal(new_x[: len(x)], x)  # the originals first, unchanged
    synthetic = new_x[len(x):]
    assert not any((s == x).all(axis=(1, 2)).any() for s in synthetic)  # new images
    # interpolated between images of the same class: the bright square keeps its class's level
    assert abs(float(synthetic[new_y[len(x):] == 2][:, 20:28, 20:28].mean()) - (160 + 19.5)) < 10
    assert record["after"] == {"a": 24, "b": 24, "c": 24}
    assert any("k_neighbors lowered from 5 to 3" in r.getMessage() for r in caplog.records)
    assert any("resampling 36 training images with smote" in r.getMessage() for r in caplog.records)

    # in a PCA space: originals still exact, new images of the right shape
    px, py, _ = resample(x, y, CLASSES, "smote", pca=6, seed=1)
    assert px.dtype == np.uint8 and px.shape == (72, 48, 48) and np.bincount(py).tolist() == [24, 24, 24]
    np.testing.assert_array_equal(px[: len(x)], x)
    with pytest.raises(OptionError, match="balance_pca = 500"):
        resample(x, y, CLASSES, "smote", pca=500)


def test_sampler_draws_each_class_about_equally(tmp_path, monkeypatch):
    labels = np.array([0] * 200 + [1] * 50 + [2] * 10)
    rng = np.random.default_rng(0)
    draws = np.concatenate([labels[sampler_order(labels, rng)] for _ in range(20)])
    assert len(draws) == 20 * 260
    np.testing.assert_allclose(np.bincount(draws) / len(draws), 1 / 3, atol=0.03)
    # a single epoch too, looser
    one = np.bincount(labels[sampler_order(labels, np.random.default_rng(1))], minlength=3) / 260
    np.testing.assert_allclose(one, 1 / 3, atol=0.1)
    # seeded
    np.testing.assert_array_equal(sampler_order(labels, np.random.default_rng(5)),
                                  sampler_order(labels, np.random.default_rng(5)))

    # through the trainer: the epoch's batches come from training indices only, rare classes included
    ds = imbalanced()
    t = Trainer(tiny_config(tmp_path / "run", balance="sampler"), dataset=ds, progress=False)
    seen = []
    real = balance_mod.sampler_order

    def spy(lab, rng, n=None):
        order = real(lab, rng, n)
        seen.append(order)
        return order

    monkeypatch.setattr("ferkit.train.trainer.sampler_order", spy)
    t._train_epoch()
    assert len(seen) == 1 and len(seen[0]) == 36
    assert t.steps_per_epoch == 36 // 16
    assert t.balance_record["after"] == {"a": 12, "b": 12, "c": 12}


def test_resampled_set_is_cached(tmp_path, monkeypatch):
    ds = imbalanced()
    m = ds.split == "train"
    x, y = ds.images[m], ds.labels[m]
    first_x, first_y, record = resample(x, y, CLASSES, "smote", seed=2, out=tmp_path)
    assert not record["cached"] and len(list(tmp_path.glob("balance_cache_*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("resampled again instead of using the cache")

    monkeypatch.setattr(balance_mod, "_resample", boom)
    again_x, again_y, record = resample(x, y, CLASSES, "smote", seed=2, out=tmp_path)
    assert record["cached"] and record["after"] == {"a": 24, "b": 24, "c": 24}
    np.testing.assert_array_equal(again_x, first_x)
    np.testing.assert_array_equal(again_y, first_y)
    # another seed, method or content is another key
    for method, seed in (("smote", 3), ("ros", 2)):
        with pytest.raises(AssertionError, match="resampled again"):
            resample(x, y, CLASSES, method, seed=seed, out=tmp_path)
    with pytest.raises(AssertionError, match="resampled again"):
        resample(255 - x, y, CLASSES, "smote", seed=2, out=tmp_path)
    # a second Trainer in the same run folder uses it too
    monkeypatch.undo()
    Trainer(tiny_config(tmp_path / "run", balance="smote"), dataset=ds, progress=False)
    monkeypatch.setattr(balance_mod, "_resample", boom)
    t = Trainer(tiny_config(tmp_path / "run", balance="smote"), dataset=ds, progress=False)
    assert t.balance_record["cached"] and np.bincount(t.train_labels).tolist() == [24, 24, 24]


def test_smote_with_a_one_image_class_is_a_clear_error(tmp_path):
    ds = imbalanced(train_counts=(10, 5, 1))
    for method in ("smote", "smote_tomek", "smote_enn"):
        with pytest.raises(InputError, match="class 'c' has 1 in the training split"):
            Trainer(tiny_config(tmp_path / method, balance=method), dataset=ds, progress=False)
    # random oversampling copes
    t = Trainer(tiny_config(tmp_path / "ros", balance="ros"), dataset=ds, progress=False)
    assert np.bincount(t.train_labels).tolist() == [10, 10, 10]


def test_missing_imblearn_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imblearn", None)
    ds = imbalanced()
    m = ds.split == "train"
    with pytest.raises(OptionError, match=r"pip install ferkit\[imbalance\]"):
        resample(ds.images[m], ds.labels[m], CLASSES, "ros")


def test_train_end_to_end_with_ros(tmp_path, toy_dataset):
    result = train(tiny_config(tmp_path / "run", balance="ros"), dataset=toy_dataset, progress=False)
    assert result.epochs_run == 1 and result.best_checkpoint.exists()
    record = json.loads((tmp_path / "run" / "balance.json").read_text())
    largest = max(record["before"].values())
    assert set(record["after"].values()) == {largest}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["balance"] == "ros"


@pytest.mark.parametrize("method", ["smote", "smote_tomek", "smote_enn"])
def test_progress_resampling_equals_imbalanced_learn(method, capsys):
    """The neighbour searches run in chunks under progress bars; the result is imbalanced-learn's own."""
    pytest.importorskip("imblearn")
    from imblearn.combine import SMOTEENN, SMOTETomek
    from imblearn.over_sampling import SMOTE

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2600, 6)).astype(np.float32)
    y = np.repeat([0, 1, 2], [2000, 450, 150])
    x[y == 1] += 0.8
    x[y == 2] -= 0.8
    got_x, got_y = balance_mod._fit_resample(method, x, y, 5, 7, progress=True)
    smote = SMOTE(k_neighbors=5, random_state=7)
    reference = {"smote": smote, "smote_tomek": SMOTETomek(smote=smote, random_state=7),
                 "smote_enn": SMOTEENN(smote=smote, random_state=7)}[method]
    want_x, want_y = reference.fit_resample(x, y)
    np.testing.assert_array_equal(got_y, want_y)
    np.testing.assert_allclose(got_x, want_x)
    # the searches over every image show their bars (SMOTE's own run per minority class, here under one chunk)
    shown = {"smote": None, "smote_tomek": "Tomek links", "smote_enn": "ENN neighbours"}[method]
    assert shown is None or shown in capsys.readouterr().err
