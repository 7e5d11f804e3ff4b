"""Mixup (augment.mixup): batches blended with a shuffled copy of themselves, labels and teacher targets alike;
an online teacher labels the blended faces."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from faces_data import synthetic_faces

from ferkit.core.errors import OptionError
from ferkit.export import export_onnx
from ferkit.models.checkpoint import read_checkpoint
from ferkit.train import TrainConfig, train
from ferkit.train.augment import AugmentConfig, augment_whole_batch, mixup
from ferkit.train.trainer import Trainer


def config(out, **kw):
    base = dict(out=str(out), model="vgg_compact", model_cfg={"widths": (8, 16), "dropout": 0.0}, epochs=1,
                batch_size=16, lr=0.05, warmup_epochs=0.5, bf16=False, channels_last=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_mixup_blends_every_view_of_a_batch_alike():
    images = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8)
    crops, whole = augment_whole_batch(images, 40, AugmentConfig(), torch.Generator().manual_seed(0))
    (mc, mw), perm, lam = mixup([crops, whole], 0.4, torch.Generator().manual_seed(1), np.random.default_rng(2))
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(16))
    torch.testing.assert_close(mc, lam * crops + (1 - lam) * crops[perm])
    torch.testing.assert_close(mw[..., 4:44, 4:44], mc)  # the teacher's face still holds the student's view
    lams = [mixup([crops], 0.2, torch.Generator().manual_seed(i), np.random.default_rng(i))[2] for i in range(200)]
    assert np.mean([min(v, 1 - v) < 0.1 for v in lams]) > 0.5  # Beta(0.2, 0.2): mostly near one of the faces


def test_mixup_option_is_checked():
    with pytest.raises(OptionError, match="mixup"):
        AugmentConfig(mixup=-0.5)
    assert AugmentConfig().mixup == 0.0


def test_the_label_loss_of_a_mixed_batch_blends_both_labels(tmp_path):
    ds = synthetic_faces(n=70)
    trainer = Trainer(config(tmp_path / "r", label_smoothing=0.1, augment={"mixup": 0.4}), dataset=ds,
                      progress=False)
    logits, y = torch.randn(6, 7), torch.tensor([0, 1, 2, 3, 4, 5])
    perm = torch.tensor([5, 4, 3, 2, 1, 0])

    def ce(t):
        return F.cross_entropy(logits, t, label_smoothing=0.1)

    expected = 0.3 * ce(y) + 0.7 * ce(y[perm])
    assert trainer._hard_label_loss(logits, y, perm, 0.3).item() == pytest.approx(expected.item(), rel=1e-6)
    assert trainer._hard_label_loss(logits, y, None, 1.0).item() == pytest.approx(ce(y).item(), rel=1e-6)


def test_an_online_teacher_labels_the_blended_faces(tmp_path, monkeypatch):
    import ferkit.train.trainer as trainer_module
    from ferkit.train.distill import OnlineTeacher

    ds = synthetic_faces(n=140)
    train(config(tmp_path / "t", epochs=2), dataset=ds, progress=False)
    teacher = export_onnx(tmp_path / "t" / "best.pt", tmp_path / "teacher.onnx")
    blends, seen = [], []
    blend, judge = trainer_module.mixup, OnlineTeacher.__call__
    monkeypatch.setattr(trainer_module, "mixup", lambda *a: blends.append(blend(*a)) or blends[-1])
    monkeypatch.setattr(OnlineTeacher, "__call__", lambda self, whole: seen.append(whole) or judge(self, whole))
    cfg = config(tmp_path / "s", teacher=str(teacher), teacher_mode="online", distill_alpha=0.7,
                 augment={"mixup": 0.4})
    result = train(cfg, dataset=ds, progress=False)
    assert len(seen) == len(blends) == int((ds.split == "train").sum()) // 16
    assert all(w is b[0][1] for w, b in zip(seen, blends))  # the teacher judged the blended whole faces
    assert len({round(b[2], 6) for b in blends}) > 1  # a weight per batch
    import pandas as pd

    assert np.isfinite(pd.read_csv(tmp_path / "s" / "metrics.csv")["train_loss"]).all()
    assert read_checkpoint(result.best_checkpoint)["train_config"]["augment"]["mixup"] == 0.4


def test_the_student_learns_from_the_blend_and_a_resumed_run_draws_the_same(tmp_path, monkeypatch):
    import ferkit.train.trainer as trainer_module

    ds = synthetic_faces(n=70)
    blends, inputs = [], []
    blend, forward = trainer_module.mixup, Trainer._forward
    monkeypatch.setattr(trainer_module, "mixup", lambda *a: blends.append(blend(*a)) or blends[-1])
    monkeypatch.setattr(Trainer, "_forward", lambda self, m, x, r: (inputs.append(x) if m.training else None)
                        or forward(self, m, x, r))
    cfg = config(tmp_path / "full", epochs=2, augment={"mixup": 0.4})
    train(cfg, dataset=ds, progress=False)
    trainer = Trainer(config(tmp_path / "probe"), dataset=ds, progress=False)
    mean, std = trainer.preprocess["mean"], trainer.preprocess["std"]
    for (mixed,), _, _ in blends:  # what the student was fed is the blend, normalised
        assert any(torch.allclose(x, (mixed - mean) / std, atol=1e-6) for x in inputs)
    monkeypatch.undo()
    # stopped after one epoch and resumed: the same weights as the run straight through
    split = config(tmp_path / "split", epochs=2, augment={"mixup": 0.4})
    t = Trainer(split, dataset=ds, progress=False)
    t.cfg.epochs = 1
    t.fit()
    t.cfg.epochs = 2
    train(split, resume=tmp_path / "split" / "last.pt", dataset=ds, progress=False)
    a, b = (read_checkpoint(tmp_path / d / "last.pt")["state_dict"] for d in ("full", "split"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_a_cached_teachers_targets_are_blended_alike(tmp_path, monkeypatch):
    import ferkit.train.trainer as trainer_module

    ds = synthetic_faces(n=70)
    train(config(tmp_path / "t"), dataset=ds, progress=False)
    teacher = export_onnx(tmp_path / "t" / "best.pt", tmp_path / "teacher.onnx")
    blends, targets = [], []
    blend, kd = trainer_module.mixup, trainer_module.distillation_loss
    monkeypatch.setattr(trainer_module, "mixup", lambda *a: blends.append(blend(*a)) or blends[-1])
    monkeypatch.setattr(trainer_module, "distillation_loss", lambda s, t, temp: targets.append(t) or kd(s, t, temp))
    cfg = config(tmp_path / "s", teacher=str(teacher), augment={"mixup": 0.4})
    trainer = Trainer(cfg, dataset=ds, progress=False)
    order = trainer.rng.permutation(trainer.train_idx)  # the first epoch's order, drawn as the trainer will
    trainer.rng.bit_generator.state = Trainer(cfg, dataset=ds, progress=False).rng.bit_generator.state
    trainer.fit()
    soft = torch.from_numpy(trainer.teacher_probs)
    idx = torch.from_numpy(order[:16])
    (_, perm, lam), first = blends[0], targets[0]
    torch.testing.assert_close(first, lam * soft[idx] + (1 - lam) * soft[idx][perm])
    torch.testing.assert_close(first.sum(1), torch.ones(16))


def test_mixup_is_refused_for_models_that_need_one_label_or_one_face(tmp_path):
    ds = synthetic_faces(n=70)
    with pytest.raises(OptionError, match="regions"):
        Trainer(config(tmp_path / "reg", model="regions", model_cfg={}, augment={"mixup": 0.4}), dataset=ds,
                progress=False)
    with pytest.raises(OptionError, match="own losses"):
        Trainer(config(tmp_path / "dan", model="dan", model_cfg={}, augment={"mixup": 0.4}), dataset=ds,
                progress=False)
