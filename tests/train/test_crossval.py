import json

import numpy as np
import pytest

from ferkit.train import TrainConfig
from ferkit.train.crossval import cross_validate


def tiny_config(out, **kw):
    return TrainConfig.from_dict(dict(out=str(out), model="vgg_compact", model_cfg={"widths": (8, 16)}, epochs=1,
                                      batch_size=16, warmup_epochs=0.5, bf16=False, seed=3, **kw))


def test_kfold_tests_every_subject_once_and_pools_results(tmp_path, subject_dataset):
    ds = subject_dataset
    cfg = tiny_config(tmp_path / "cv", val_fraction=0.2)
    summary = cross_validate(cfg, folds=3, dataset=ds, progress=False)
    reports = [json.loads((tmp_path / "cv" / f"fold_{i:02d}" / "report.json").read_text()) for i in (1, 2, 3)]
    tested = [set(r["test_groups"]) for r in reports]
    assert set.union(*tested) == set(ds.groups) and sum(map(len, tested)) == 24  # each subject tested once
    assert summary["pooled"]["n"] == len(ds) == sum(r["n"] for r in reports)
    accs = [r["accuracy"] for r in reports]
    assert summary["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert summary["accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1))
    pooled_correct = sum(r["accuracy"] * r["n"] for r in reports)
    assert summary["pooled"]["accuracy"] == pytest.approx(pooled_correct / len(ds))
    for name in ("cv_summary.json", "cv_summary.md", "cv_confusion.png"):
        assert (tmp_path / "cv" / name).exists()
    ckpt = tmp_path / "cv" / "fold_01" / "best.pt"
    stamp = ckpt.stat().st_mtime_ns
    again = cross_validate(cfg, folds=3, dataset=ds, progress=False)  # finished folds are not retrained
    assert ckpt.stat().st_mtime_ns == stamp
    assert again["per_fold"] == summary["per_fold"]
    with pytest.raises(ValueError, match="other folds"):  # another K would mix reports of other splits
        cross_validate(cfg, folds=4, dataset=ds, progress=False)


def test_kfold_refuses_datasets_with_an_official_split(tmp_path, toy_dataset):
    with pytest.raises(ValueError, match="official"):
        cross_validate(tiny_config(tmp_path / "cv"), folds=3, dataset=toy_dataset, progress=False)
