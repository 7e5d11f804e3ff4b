import hashlib
import json
import logging

import cv2
import numpy as np
import pytest

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.labels import EMOTIONS
from ferkit.train import TrainConfig, train
from ferkit.train import trainer as trainer_mod
from ferkit.train.config import apply_overrides
from ferkit.train.trainer import Trainer

TINY = {"widths": (8, 16), "dropout": 0.0}
#: AffectNet-style folder names (``anger`` is an alias of ``angry``); the 7-class model lacks contempt
EXTRA = {"anger": 3, "happy": 3, "sad": 2, "neutral": 2, "contempt": 4}


def tiny_config(out, **kw):
    base = {"out": str(out), "model": "vgg_compact", "model_cfg": TINY, "epochs": 1, "batch_size": 8, "lr": 0.05,
            "warmup_epochs": 0.5, "bf16": False, "seed": 3}
    base.update(kw)
    return TrainConfig.from_dict(base)


def affectnet_folder(root, counts=EXTRA, seed=0):
    """A folder of class folders of colour 64x64 PNGs."""
    rng = np.random.default_rng(seed)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)
            assert cv2.imwrite(str(root / name / f"{name}_{i}.png"), img)
    return root


def digest(ds, part):
    m = ds.split == part
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.images[m]).tobytes())
    h.update(np.ascontiguousarray(ds.labels[m]).tobytes())
    return h.hexdigest()


def test_extra_train_must_be_a_list_of_strings():
    with pytest.raises(OptionError, match="extra_train must be a list"):
        TrainConfig(extra_train="other/")
    with pytest.raises(OptionError, match="extra_train must be a list"):
        TrainConfig(extra_train=[3])
    with pytest.raises(OptionError, match="extra_train must be a list"):
        TrainConfig.from_dict({"extra_train": {"a": 1}})
    assert TrainConfig().extra_train == []
    cfg = TrainConfig.from_dict(apply_overrides({}, ['extra_train=["a/", "b.npz"]']))
    assert cfg.extra_train == ["a/", "b.npz"]


def test_extra_images_join_the_training_split_only(tmp_path, monkeypatch, toy_dataset):
    extra = affectnet_folder(tmp_path / "affectnet")
    ds = toy_dataset  # conftest's synthetic_faces()
    before = {p: digest(ds, p) for p in ("train", "val", "test")}
    plain = Trainer(tiny_config(tmp_path / "plain"), dataset=ds, progress=False)
    t = Trainer(tiny_config(tmp_path / "run", extra_train=[str(extra)]), dataset=ds, progress=False)
    added = sum(EXTRA.values()) - EXTRA["contempt"]
    n_main = len(plain.train_idx)
    assert len(t.train_labels) == n_main + added
    assert t.steps_per_epoch == (n_main + added) // 8 and plain.steps_per_epoch == n_main // 8
    np.testing.assert_array_equal(t.val_idx, plain.val_idx)
    np.testing.assert_array_equal(t.train_images[:n_main], ds.images[t.train_idx])
    extra_labels = t.train_labels[n_main:]
    assert np.bincount(extra_labels, minlength=7).tolist() == [
        {"angry": 3, "happy": 3, "sad": 2, "neutral": 2}.get(c, 0) for c in EMOTIONS]
    assert t.train_images.shape[1:] == (48, 48) and t.train_images.dtype == np.uint8

    seen = []
    real = trainer_mod.augment_batch

    def counting(images, *a, **kw):
        seen.append(len(images))
        return real(images, *a, **kw)

    monkeypatch.setattr(trainer_mod, "augment_batch", counting)
    plain._train_epoch()
    n_plain = sum(seen)
    seen.clear()
    t._train_epoch()
    assert n_plain == n_main - n_main % 8
    assert sum(seen) == len(t.train_labels) - len(t.train_labels) % 8
    assert {p: digest(ds, p) for p in ("train", "val", "test")} == before


def test_missing_extra_path_is_refused_before_training(tmp_path, toy_dataset):
    cfg = tiny_config(tmp_path / "run", extra_train=[str(tmp_path / "nowhere")])
    with pytest.raises(MissingInputError, match="nowhere"):
        train(cfg, dataset=toy_dataset, progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_extra_set_without_common_classes_is_refused(tmp_path, toy_dataset):
    extra = affectnet_folder(tmp_path / "only_contempt", {"contempt": 3})
    with pytest.raises(InputError, match="only_contempt.*no class in common"):
        Trainer(tiny_config(tmp_path / "run", extra_train=[str(extra)]), dataset=toy_dataset, progress=False)


def test_train_end_to_end_with_extra_train(tmp_path, caplog, toy_dataset):
    extra = affectnet_folder(tmp_path / "affectnet")
    with caplog.at_level(logging.INFO, logger="ferkit.train"):
        result = train(tiny_config(tmp_path / "run", extra_train=[str(extra)]), dataset=toy_dataset,
                       progress=False)
    assert result.epochs_run == 1 and result.best_checkpoint.exists()
    record = json.loads((tmp_path / "run" / "extra_train.json").read_text())
    assert len(record) == 1
    r = record[0]
    assert r["path"] == str(extra)
    assert r["images"] == sum(EXTRA.values())
    assert r["added"] == sum(EXTRA.values()) - 4
    assert r["dropped"] == {"contempt": 4}
    assert set(r["classes"]) == {"angry", "happy", "sad", "neutral", "contempt"}
    assert isinstance(r["name"], str)
    assert sum("extra_train" in m and "10 of 14 images added" in m for m in caplog.messages) == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["extra_train"] == [str(extra)]


@pytest.mark.parametrize("method", ["sampler", "ros"])
def test_balance_works_on_the_combined_training_set(tmp_path, toy_dataset, method):
    extra = affectnet_folder(tmp_path / "affectnet")
    t = Trainer(tiny_config(tmp_path / "run", extra_train=[str(extra)], balance=method), dataset=toy_dataset,
                progress=False)
    combined = np.bincount(np.concatenate([toy_dataset.labels[t.train_idx], t.extra_labels]), minlength=7)
    assert t.balance_record["before"] == dict(zip(EMOTIONS, combined.tolist()))
    if method == "ros":
        assert np.bincount(t.train_labels).tolist() == [combined.max()] * 7
    else:
        assert len(t.train_labels) == combined.sum()
    t._train_epoch()


def test_resume_refuses_a_changed_extra_set(tmp_path, toy_dataset):
    from ferkit.core.errors import ResumeError

    extra = affectnet_folder(tmp_path / "affectnet")
    cfg = tiny_config(tmp_path / "run", extra_train=[str(extra)], epochs=2)
    train(dataclasses_replace(cfg, epochs=1), dataset=toy_dataset, progress=False)
    last = tmp_path / "run" / "last.pt"
    # the same extra set: the run continues
    assert train(cfg, resume=last, dataset=toy_dataset, progress=False).epochs_run == 2
    # images added to the extra set: refused, naming what may have changed
    img = np.full((64, 64, 3), 90, dtype=np.uint8)
    assert cv2.imwrite(str(extra / "happy" / "new.png"), img)
    cfg3 = dataclasses_replace(cfg, epochs=3)
    with pytest.raises(ResumeError, match="another training set.*extra_train"):
        train(cfg3, resume=last, dataset=toy_dataset, progress=False)
    with pytest.raises(ResumeError, match="another training set"):
        train(dataclasses_replace(cfg3, extra_train=[]), resume=last, dataset=toy_dataset, progress=False)


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)
