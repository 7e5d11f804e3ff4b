import csv
import logging

import numpy as np
import pytest
import torch

from ferkit.core.errors import MissingInputError, OptionError, OutputError, OutputExistsError, ResumeError
from ferkit.models.checkpoint import load_checkpoint
from ferkit.train import AugmentConfig, TrainConfig, augment_batch, load_config, train
from ferkit.train.config import apply_overrides
from ferkit.train.trainer import class_weights

TINY = {"widths": (8, 16), "dropout": 0.0}


def tiny_config(out, **kw):
    base = dict(out=str(out), model="vgg_compact", model_cfg=TINY, epochs=2, batch_size=16, lr=0.05,
                warmup_epochs=0.5, bf16=False, seed=3)
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_train_writes_outputs_and_learns(tmp_path, toy_dataset):
    cfg = tiny_config(tmp_path / "run", epochs=6, batch_size=8, augment={"erase": 0.0, "rotate": 0, "scale_min": 1.0,
                                                           "scale_max": 1.0, "translate": 0.0})
    result = train(cfg, dataset=toy_dataset, progress=False)
    assert result.epochs_run == 6
    for name in ("best.pt", "last.pt", "metrics.csv", "curves.png", "config.json"):
        assert (tmp_path / "run" / name).exists(), name
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert max(float(r["val_acc"]) for r in rows) == pytest.approx(result.best_val_acc)
    assert result.best_val_acc > 0.5  # the toy classes are easy; chance is 1/7
    model, state = load_checkpoint(result.best_checkpoint)
    assert state["classes"] == list(toy_dataset.classes)
    assert state["preprocess"]["input_size"] == 40 and state["preprocess"]["image_size"] == 48


def test_resume_matches_uninterrupted_run(tmp_path, toy_dataset):
    full = train(tiny_config(tmp_path / "full"), dataset=toy_dataset, progress=False)
    # stop a 2-epoch run after its first epoch (as Ctrl-C would), then resume it
    cfg = tiny_config(tmp_path / "split")
    from ferkit.train.trainer import Trainer

    t = Trainer(cfg, dataset=toy_dataset, progress=False)
    t.cfg.epochs = 1
    t.fit()
    t.cfg.epochs = 2
    resumed = train(cfg, resume=tmp_path / "split" / "last.pt", dataset=toy_dataset, progress=False)
    assert resumed.epochs_run == 2
    a, _ = load_checkpoint(full.out / "last.pt")
    b, _ = load_checkpoint(resumed.out / "last.pt")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)
    rows = list(csv.DictReader((tmp_path / "split" / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]


def test_ema_checkpoints_the_weight_average_and_resumes(tmp_path, toy_dataset):
    from ferkit.train.trainer import Trainer

    full = train(tiny_config(tmp_path / "full", ema_decay=0.9), dataset=toy_dataset, progress=False)
    rows = list(csv.DictReader((tmp_path / "full" / "metrics.csv").open()))
    assert all("val_acc_raw" in r for r in rows)
    # the average differs from the live weights, and best.pt holds the average that val_acc measured
    best, state = load_checkpoint(full.out / "best.pt")
    live, _ = load_checkpoint(full.out / "last.pt")
    w_best, w_live = best.state_dict(), live.state_dict()
    assert any(not torch.equal(w_best[k], w_live[k]) for k in w_best if w_best[k].is_floating_point())
    t = Trainer(tiny_config(tmp_path / "check", ema_decay=0.9), dataset=toy_dataset, progress=False)
    t.model.load_state_dict(w_best)
    assert t.validate(t.model)[1] == pytest.approx(state["metrics"]["val_acc"])
    # interrupted after one epoch and resumed: the same average as the uninterrupted run
    cfg = tiny_config(tmp_path / "split", ema_decay=0.9)
    t = Trainer(cfg, dataset=toy_dataset, progress=False)
    t.cfg.epochs = 1
    t.fit()
    cfg.epochs = 2
    t2 = Trainer(cfg, dataset=toy_dataset, progress=False)
    t2.resume(tmp_path / "split" / "last.pt")
    t2.fit()
    t3 = Trainer(tiny_config(tmp_path / "again", ema_decay=0.9), dataset=toy_dataset, progress=False)
    t3.fit()
    for k, v in t3.ema.module.state_dict().items():
        torch.testing.assert_close(t2.ema.module.state_dict()[k], v, msg=k)
    with pytest.raises(ValueError, match="ema_decay"):
        Trainer(tiny_config(tmp_path / "bad", ema_decay=1.0), dataset=toy_dataset, progress=False)


def test_refuses_to_overwrite_a_run(tmp_path, toy_dataset):
    train(tiny_config(tmp_path / "run", epochs=1), dataset=toy_dataset, progress=False)
    with pytest.raises(OutputExistsError, match="already holds a training run"):
        train(tiny_config(tmp_path / "run", epochs=1), dataset=toy_dataset, progress=False)


def test_partial_run_is_refused_and_overwrite_replaces_only_run_files(tmp_path, toy_dataset):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("stale\n")  # a run that stopped before its first checkpoint
    (run / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"already holds a training run \(metrics.csv\).*--overwrite"):
        train(tiny_config(run, epochs=1), dataset=toy_dataset, progress=False)
    (run / "best.pt").write_bytes(b"stale")
    with pytest.raises(OptionError, match="give one of them"):
        train(tiny_config(run, epochs=1), resume=run / "last.pt", overwrite=True, dataset=toy_dataset, progress=False)
    result = train(tiny_config(run, epochs=1), dataset=toy_dataset, progress=False, overwrite=True)
    assert result.epochs_run == 1
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1]
    load_checkpoint(run / "best.pt")  # the new one
    assert (run / "notes.txt").read_text() == "mine"  # not a run file: kept
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        train(tiny_config(tmp_path / "file", epochs=1), dataset=toy_dataset, progress=False)


def test_config_files_and_overrides(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('model = "resnet"\nepochs = 3\n[augment]\nrotate = 5.0\n')
    cfg = load_config(toml, ["lr=0.1", "augment.hflip=false", "model_cfg.dropout=0.5"])
    assert (cfg.model, cfg.epochs, cfg.lr) == ("resnet", 3, 0.1)
    assert cfg.augment.rotate == 5.0 and cfg.augment.hflip is False
    assert cfg.model_cfg == {"dropout": 0.5}
    yml = tmp_path / "c.yaml"
    yml.write_text("optimizer: adamw\naugment:\n  erase: 0.0\n")
    cfg = load_config(yml)
    assert cfg.optimizer == "adamw" and cfg.augment.erase == 0.0 and cfg.epochs == TrainConfig().epochs
    with pytest.raises(OptionError, match="unknown config keys"):
        load_config(None, ["epoch=3"])
    assert apply_overrides({}, ["a.b=[1, 2]"]) == {"a": {"b": [1, 2]}}


def test_augment_batch_shapes_and_identity():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (8, 48, 48), dtype=torch.uint8)
    out = augment_batch(imgs, 40, AugmentConfig(), g)
    assert out.shape == (8, 1, 40, 40) and out.min() >= 0 and out.max() <= 1
    off = AugmentConfig(hflip=False, scale_min=1, scale_max=1, aspect=0, rotate=0, translate=0,
                        random_crop=False, erase=0, noise=0)
    same = augment_batch(imgs, 48, off, g)
    torch.testing.assert_close(same[:, 0], imgs.float() / 255, atol=1e-5, rtol=0)
    center = augment_batch(imgs, 40, off, g)
    torch.testing.assert_close(center[:, 0], imgs[:, 4:44, 4:44].float() / 255, atol=1e-5, rtol=0)


def test_class_weights():
    labels = np.array([0, 0, 0, 1])
    w = class_weights(labels, 2, "balanced")
    torch.testing.assert_close(w, torch.tensor([4 / 6, 2.0]))
    assert class_weights(labels, 2, "none") is None


def test_ctrl_c_saves_and_resumes(tmp_path, toy_dataset, monkeypatch):
    from ferkit.models.checkpoint import read_checkpoint
    from ferkit.train.trainer import Trainer

    cfg = tiny_config(tmp_path / "run", epochs=3)
    trainer = Trainer(cfg, dataset=toy_dataset, progress=False)
    real_epoch = trainer._train_epoch
    calls = {"n": 0}

    def interrupt_second_epoch():
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_epoch()

    monkeypatch.setattr(trainer, "_train_epoch", interrupt_second_epoch)
    result = trainer.fit()
    assert result.interrupted and result.epochs_run == 1
    state = read_checkpoint(tmp_path / "run" / "last.pt")
    assert state["interrupted"] is True and state["epoch"] == 1
    resumed = train(cfg, resume=tmp_path / "run" / "last.pt", dataset=toy_dataset, progress=False)
    assert resumed.epochs_run == 3 and not resumed.interrupted


def test_early_stopping_plateau_and_adamw(tmp_path, toy_dataset):
    cfg = tiny_config(tmp_path / "run", epochs=30, lr=1e-12, optimizer="adamw", scheduler="plateau", early_stopping=2)
    result = train(cfg, dataset=toy_dataset, progress=False)
    # with a negligible lr nothing improves after the first epoch: stops after 1 + 2 epochs
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1


def test_bad_config_values(tmp_path, toy_dataset):
    with pytest.raises(ValueError, match="optimizer"):
        train(tiny_config(tmp_path / "a", optimizer="rmsprop"), dataset=toy_dataset, progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        train(tiny_config(tmp_path / "b", scheduler="step"), dataset=toy_dataset, progress=False)
    with pytest.raises(OptionError, match="image_size"):
        train(tiny_config(tmp_path / "c", image_size=64), dataset=toy_dataset, progress=False)


def test_init_from_checkpoint_with_other_classes(tmp_path, toy_dataset):
    from ferkit.data import FaceDataset
    from ferkit.models.checkpoint import read_checkpoint
    from ferkit.train.trainer import Trainer

    first = train(tiny_config(tmp_path / "a", epochs=1), dataset=toy_dataset, progress=False)
    saved = read_checkpoint(first.best_checkpoint)["state_dict"]
    four = FaceDataset(toy_dataset.images, toy_dataset.labels % 4, toy_dataset.classes[:4], split=toy_dataset.split)
    t = Trainer(tiny_config(tmp_path / "b", epochs=1, init_from=str(first.best_checkpoint)), dataset=four,
                progress=False)
    # every weight (and BatchNorm statistic) is the checkpoint's but the classifier, fresh for 4 classes
    own = t.model.state_dict()
    assert list(own) == list(saved)
    assert t.model.num_classes == 4 and t.model.ferkit_cfg["num_classes"] == 4
    for k, v in saved.items():
        if k.startswith("head.3."):
            assert own[k].shape[0] == 4 and v.shape[0] == 7
        else:
            torch.testing.assert_close(own[k], v, rtol=0, atol=0, msg=k)
    result = t.fit()
    b, state = load_checkpoint(result.best_checkpoint)
    assert state["classes"] == list(toy_dataset.classes[:4]) and b.num_classes == 4
    assert state["model"]["num_classes"] == 4

    # the same classes: every weight, the classifier too
    same = Trainer(tiny_config(tmp_path / "c", init_from=str(first.best_checkpoint)), dataset=toy_dataset,
                   progress=False)
    for k, v in same.model.state_dict().items():
        torch.testing.assert_close(v, saved[k], rtol=0, atol=0, msg=k)

    # another architecture, or the same one built otherwise, is refused before training
    with pytest.raises(OptionError, match="holds a 'vgg_compact' model, but the config trains 'resnet'"):
        train(tiny_config(tmp_path / "d", model="resnet", model_cfg={}, init_from=str(first.best_checkpoint)),
              dataset=toy_dataset, progress=False)
    with pytest.raises(OptionError, match=r"do not fit .*widths=\(8, 16\).*widths=\(8, 32\)"):
        train(tiny_config(tmp_path / "e", model_cfg={"widths": (8, 32)}, init_from=str(first.best_checkpoint)),
              dataset=toy_dataset, progress=False)
    with pytest.raises(MissingInputError, match="no such checkpoint"):
        train(tiny_config(tmp_path / "f", init_from=str(tmp_path / "nope.pt")), dataset=toy_dataset, progress=False)


def test_init_partial_takes_the_tensors_that_fit(tmp_path, toy_dataset, caplog):
    from ferkit.models.checkpoint import read_checkpoint
    from ferkit.train.trainer import Trainer

    # a VGG with a fully connected head teaches its convolutions to a vgg_compact (global-pool head)
    fc = train(tiny_config(tmp_path / "fc", model="vgg", model_cfg={**TINY, "fc_dims": (32,)}, input_size=40,
                           epochs=1), dataset=toy_dataset, progress=False)
    saved = read_checkpoint(fc.best_checkpoint)["state_dict"]
    with caplog.at_level(logging.INFO, logger="ferkit.train"):
        t = Trainer(tiny_config(tmp_path / "gap", init_from=str(fc.best_checkpoint), init_partial=True),
                    dataset=toy_dataset, progress=False)
    own = t.model.state_dict()
    convs = [k for k in own if k.startswith("features.")]
    assert convs and all(k in saved for k in convs)
    for k in convs:  # every convolution and BatchNorm statistic is the checkpoint's
        torch.testing.assert_close(own[k], saved[k], rtol=0, atol=0, msg=k)
    assert own["head.3.weight"].shape == (7, 16) and "head.3.weight" not in saved  # its head: head.2, head.5
    assert "fresh: head.3.bias, head.3.weight" in caplog.text
    assert t.fit().best_checkpoint.exists()

    # nothing fits: refused before training; and init_partial alone means nothing
    with pytest.raises(OptionError, match="none of its tensors fits the 'resnet' model"):
        train(tiny_config(tmp_path / "r", model="resnet", model_cfg={"widths": (4, 4, 4, 4)},
                          init_from=str(fc.best_checkpoint), init_partial=True), dataset=toy_dataset, progress=False)
    with pytest.raises(OptionError, match="init_partial needs init_from"):
        tiny_config(tmp_path / "n", init_partial=True)
    with pytest.raises(OptionError, match="init_partial must be true or false"):
        tiny_config(tmp_path / "s", init_from=str(fc.best_checkpoint), init_partial="yes")


def test_resume_rebuilds_the_checkpoints_model(tmp_path, toy_dataset, caplog):
    from ferkit.models.checkpoint import read_checkpoint
    from ferkit.train.trainer import Trainer

    cfg = tiny_config(tmp_path / "run", epochs=1)
    train(cfg, dataset=toy_dataset, progress=False)
    # the config now names another architecture and size: the checkpoint's model continues
    other = tiny_config(tmp_path / "run", epochs=2, model="resnet", model_cfg={"widths": (4, 8), "blocks": (1, 1)},
                        input_size=44)
    with caplog.at_level(logging.WARNING, logger="ferkit.train"):
        result = train(other, resume=tmp_path / "run" / "last.pt", dataset=toy_dataset, progress=False)
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'vgg_compact'" in m and "'resnet'" in m and "resuming with the checkpoint's model" in m
               for m in warning), warning
    assert result.epochs_run == 2
    state = read_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model"]["name"] == "vgg_compact" and tuple(state["model"]["widths"]) == (8, 16)
    assert state["preprocess"]["input_size"] == 40 and state["model"]["input_size"] == 40
    assert state["train_config"]["model"] == "vgg_compact" and state["epoch"] == 2
    load_checkpoint(tmp_path / "run" / "best.pt")

    # the same model: no warning; the Trainer's model is the checkpoint's
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ferkit.train"):
        t = Trainer(tiny_config(tmp_path / "run", epochs=3), dataset=toy_dataset, progress=False)
        t.resume(tmp_path / "run" / "last.pt")
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert t.epoch == 2

    # another dataset's classes cannot continue the run
    from ferkit.data import FaceDataset

    four = FaceDataset(toy_dataset.images, toy_dataset.labels % 4, toy_dataset.classes[:4], split=toy_dataset.split)
    with pytest.raises(ResumeError, match="trained on classes"):
        train(tiny_config(tmp_path / "run", epochs=3), resume=tmp_path / "run" / "last.pt", dataset=four,
              progress=False)
    with pytest.raises(MissingInputError, match="no such checkpoint to resume from"):
        train(tiny_config(tmp_path / "run", epochs=3), resume=tmp_path / "run" / "nope.pt", dataset=toy_dataset,
              progress=False)
    with pytest.raises(ResumeError, match="no optimizer state"):
        train(tiny_config(tmp_path / "run", epochs=3), resume=tmp_path / "run" / "best.pt", dataset=toy_dataset,
              progress=False)


def test_resume_checks_the_dataset_and_warns_only_for_another_model(tmp_path, toy_dataset, caplog):
    from ferkit.data import FaceDataset
    from ferkit.models.checkpoint import read_checkpoint

    # trained with a list in model_cfg (as from TOML); resumed with the same values as a tuple: no warning
    train(tiny_config(tmp_path / "run", epochs=1, model_cfg={"widths": [8, 16], "dropout": 0.0}),
          dataset=toy_dataset, progress=False)
    state = read_checkpoint(tmp_path / "run" / "last.pt")
    record = state["dataset_record"]
    assert record["n"] == len(toy_dataset) and record["name"] == "synthetic" and len(record["fingerprint"]) == 16
    with caplog.at_level(logging.WARNING, logger="ferkit.train"):
        result = train(tiny_config(tmp_path / "run", epochs=2, model_cfg={"widths": (8, 16), "dropout": 0.0}),
                       resume=tmp_path / "run" / "last.pt", dataset=toy_dataset, progress=False)
    assert result.epochs_run == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
    # the same classes, other images: refused, before any warning about the model
    other = FaceDataset(255 - toy_dataset.images, toy_dataset.labels, toy_dataset.classes, split=toy_dataset.split,
                        name="synthetic")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ferkit.train"), pytest.raises(ResumeError, match="same dataset"):
        train(tiny_config(tmp_path / "run", epochs=3, model="resnet", model_cfg={"widths": (4, 8)}),
              resume=tmp_path / "run" / "last.pt", dataset=other, progress=False)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    fewer = toy_dataset.subset(np.arange(len(toy_dataset) - 7))
    with pytest.raises(ResumeError, match="133 images"):
        train(tiny_config(tmp_path / "run", epochs=3), resume=tmp_path / "run" / "last.pt", dataset=fewer,
              progress=False)


def test_out_under_a_file_or_read_only_is_refused_before_work(tmp_path, toy_dataset):
    import os

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create its folder"):
        train(tiny_config(blocker / "run"), dataset=toy_dataset, progress=False)
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="no permission"):
                train(tiny_config(ro / "run"), dataset=toy_dataset, progress=False)
        finally:
            ro.chmod(0o700)


def test_metrics_record_balanced_accuracy_and_macro_f1_per_epoch(tmp_path, toy_dataset):
    from ferkit.evaluate.metrics import label_metrics

    result = train(tiny_config(tmp_path / "run", epochs=2, optimizer="adam", lr=1e-3), dataset=toy_dataset,
                   progress=False)
    rows = list(csv.DictReader((result.out / "metrics.csv").open()))
    assert len(rows) == 2
    for row in rows:
        for key in ("val_macro_f1", "val_balanced_acc"):
            assert 0.0 <= float(row[key]) <= 1.0
    # the same figures a report computes, from the same predictions
    assert label_metrics([0, 0, 1, 2], [0, 1, 1, 2], 3) == pytest.approx(
        {"accuracy": 0.75, "balanced_accuracy": (0.5 + 1 + 1) / 3, "macro_f1": (2 / 3 + 2 / 3 + 1) / 3})


def test_resuming_an_older_run_adds_the_new_columns(tmp_path, toy_dataset):
    from ferkit.train.trainer import METRIC_FIELDS

    cfg = tiny_config(tmp_path / "run", epochs=1)
    result = train(cfg, dataset=toy_dataset, progress=False)
    metrics = result.out / "metrics.csv"
    old = [r for r in csv.DictReader(metrics.open())]
    old_fields = [f for f in METRIC_FIELDS if f not in ("val_macro_f1", "val_balanced_acc")]
    with metrics.open("w", newline="") as fh:  # as a run of the previous version wrote it
        w = csv.DictWriter(fh, fieldnames=old_fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(old)
    train(tiny_config(tmp_path / "run", epochs=2), resume=result.out / "last.pt", dataset=toy_dataset, progress=False)
    rows = list(csv.DictReader(metrics.open()))
    assert list(rows[0]) == METRIC_FIELDS and rows[0]["val_macro_f1"] == "" and rows[1]["val_macro_f1"] != ""


def test_ema_batch_norm_statistics_can_be_recalibrated(tmp_path, toy_dataset):
    from ferkit.train.trainer import Trainer

    cfg = tiny_config(tmp_path / "r", ema_decay=0.9, ema_bn="recalibrate")
    t = Trainer(cfg, dataset=toy_dataset, progress=False)
    t.fit()
    ema = t.ema.module
    norms = [m for m in ema.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    saved = [m.running_var.clone() for m in norms]
    # the statistics validation used are those of the clean training faces under the averaged weights
    for m in norms:
        m.running_var.fill_(123.0)
    t.recalibrate_bn(ema)
    assert not ema.training and all(m.momentum == 0.1 for m in norms)
    for m, v in zip(norms, saved):
        torch.testing.assert_close(m.running_var, v)
    best, state = load_checkpoint(t.out / "best.pt")
    t.model.load_state_dict(best.state_dict())
    assert t.validate(t.model)[1] == pytest.approx(state["metrics"]["val_acc"])
    with pytest.raises(OptionError, match="ema_bn"):
        tiny_config(tmp_path / "x", ema_bn="sometimes")
