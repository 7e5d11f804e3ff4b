import numpy as np
import pytest

from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset
from ferkit.data.splits import check_no_leak, group_kfold, group_split, train_val_indices


def grouped(n_subjects=30, per=6, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"S{i:03d}" for i in range(n_subjects)], per)
    labels = rng.integers(0, 7, len(groups))
    return FaceDataset(np.zeros((len(groups), 8, 8), np.uint8), labels, EMOTIONS, groups=groups)


def test_group_split_never_leaks_a_subject():
    ds = grouped()
    split = group_split(ds, val=0.15, test=0.15, seed=1)
    sets = {s: set(ds.groups[split == s]) for s in ("train", "val", "test")}
    assert sets["train"] and sets["val"] and sets["test"]
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert 0.05 < (split == "test").mean() < 0.3


def test_group_kfold_covers_everything_once():
    ds = grouped()
    folds = group_kfold(ds, k=5)
    held = np.concatenate([t for _, t in folds])
    assert sorted(held.tolist()) == list(range(len(ds)))
    for tr, te in folds:
        check_no_leak(ds, tr, te)


def test_train_val_official_split(toy_dataset):
    tr, va = train_val_indices(toy_dataset)
    assert set(toy_dataset.split[tr]) == {"train"} and set(toy_dataset.split[va]) == {"val"}


def test_train_val_without_split_is_grouped():
    ds = grouped()
    tr, va = train_val_indices(ds, val_fraction=0.2)
    assert len(set(tr) & set(va)) == 0 and len(tr) + len(va) == len(ds)
    check_no_leak(ds, tr, va)


def test_bad_split_options_are_option_errors(toy_dataset):
    from ferkit.core.errors import OptionError

    ds = grouped(n_subjects=4)
    with pytest.raises(OptionError, match="4 groups .* cannot make 5 folds; use at most 4"):
        group_kfold(ds, k=5)
    with pytest.raises(OptionError, match="folds must be >= 2, got 1"):
        group_kfold(ds, k=1)
    with pytest.raises(OptionError, match="val=0.6, test=0.5"):
        group_split(ds, val=0.6, test=0.5)
    with pytest.raises(OptionError, match="split must be one of train, val, test, all; got 'dev'"):
        toy_dataset.select_split("dev")


def test_a_class_smaller_than_the_folds_is_one_ferkit_warning(caplog):
    import warnings

    ds = grouped(n_subjects=30, per=1)
    labels = np.arange(30) % 6
    labels[:2] = 6  # 'neutral' (index 6) has only 2 images
    ds = FaceDataset(ds.images, labels, EMOTIONS, groups=ds.groups, name="tiny")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's UserWarning must not escape
        with caplog.at_level("WARNING", logger="ferkit.data"):
            folds = group_kfold(ds, k=5)
    assert len(folds) == 5
    msgs = [r.getMessage() for r in caplog.records if r.name == "ferkit.data"]
    assert len(msgs) == 1 and f"class {EMOTIONS[6]!r} has only 2" in msgs[0], msgs
