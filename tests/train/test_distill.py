import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from faces_data import synthetic_faces

from ferkit.cli import main
from ferkit.core.errors import InputError, MissingInputError
from ferkit.export import export_onnx
from ferkit.infer.classifier import BUNDLED_MODELS
from ferkit.models.checkpoint import read_checkpoint
from ferkit.train import TrainConfig, train
from ferkit.train.distill import distillation_loss
from ferkit.train.trainer import Trainer

TINY = {"widths": (8, 16), "dropout": 0.0}


def test_distillation_loss_is_the_tempered_kl():
    torch.manual_seed(0)
    student = torch.randn(5, 7)
    teacher = F.softmax(torch.randn(5, 7), dim=1)
    t = 3.0
    q = F.softmax(torch.log(teacher) / t, dim=1)
    p = F.softmax(student / t, dim=1)
    manual = (q * (q.log() - p.log())).sum(1).mean() * t * t
    assert distillation_loss(student, teacher, t).item() == pytest.approx(manual.item(), rel=1e-5)
    assert distillation_loss(torch.log(teacher) * 1.0, teacher, 1.0).item() == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teacher")
    ds = synthetic_faces(n=210)
    cfg = TrainConfig(out=str(tmp / "t"), model="vgg_compact", model_cfg=TINY, epochs=3, batch_size=16, lr=0.05,
                      warmup_epochs=0.5, bf16=False, channels_last=False)
    train(cfg, dataset=ds, progress=False)
    return export_onnx(tmp / "t" / "best.pt", tmp / "teacher.onnx"), ds


def student_config(out, teacher_path, **kw):
    base = dict(out=str(out), model="mini_xception", model_cfg={"widths": (8, 16)}, epochs=1, batch_size=16,
                lr=0.05, warmup_epochs=0.5, bf16=False, channels_last=False, teacher=str(teacher_path))
    base.update(kw)
    return TrainConfig(**base)


def test_a_student_learns_from_a_cached_teacher(teacher, tmp_path):
    model, ds = teacher
    result = train(student_config(tmp_path / "s", model), dataset=ds, progress=False)
    record = json.loads((tmp_path / "s" / "distill.json").read_text())
    assert record["images"] == int((ds.split == "train").sum()) and not record["from_cache"]
    assert record["temperature"] == 4.0 and record["alpha"] == 0.5 and record["teacher_train_accuracy"] > 0.5
    assert read_checkpoint(result.best_checkpoint)["distillation"]["teacher_sha256"] == record["teacher_sha256"]
    trainer = Trainer(student_config(tmp_path / "s", model), dataset=ds, progress=False)
    assert trainer.distill_record["from_cache"]  # the teacher is not run again
    train_rows = trainer.teacher_probs[trainer.train_idx]
    np.testing.assert_allclose(train_rows.sum(1), 1.0, rtol=1e-5)
    assert not trainer.teacher_probs[trainer.val_idx].any()  # never the validation images


def test_the_teacher_term_changes_training(teacher, tmp_path):
    model, ds = teacher
    results = {}
    for alpha in (0.0, 1.0):
        out = tmp_path / f"a{alpha}"
        train(student_config(out, model, distill_alpha=alpha, seed=1), dataset=ds, progress=False)
        results[alpha] = read_checkpoint(out / "last.pt")["state_dict"]
    assert any(not torch.equal(results[0.0][k], results[1.0][k]) for k in results[0.0])


def test_distill_refusals_and_cli(teacher, tmp_path, capsys):
    model, ds = teacher
    with pytest.raises(MissingInputError, match="teacher .*no such model file"):
        Trainer(student_config(tmp_path / "x", tmp_path / "none.onnx"), dataset=ds, progress=False)
    named = Trainer(student_config(tmp_path / "named", "fast", teacher_mode="online"), dataset=ds, progress=False)
    assert named.cfg.teacher == str(BUNDLED_MODELS["fast"])  # a bundled model teaches by its name
    from ferkit.data import FaceDataset

    renamed = FaceDataset(ds.images, ds.labels, ("angry", "disgust", "fear", "happy", "sad", "surprise", "contempt"),
                          split=ds.split, name="ck")
    with pytest.raises(InputError, match="does not predict contempt"):
        Trainer(student_config(tmp_path / "y", model), dataset=renamed, progress=False)
    npz = tmp_path / "faces.npz"
    np.savez(npz, images=ds.images, labels=ds.labels, usage=np.array([{"train": 0, "val": 1, "test": 2}[s]
                                                                       for s in ds.split]))
    code = main(["distill", "--teacher", str(model), "--arch", "mini_xception", "--data", str(npz), "--out",
                 str(tmp_path / "cli"), "--epochs", "1", "--batch-size", "16", "--temperature", "2", "--teacher-mode", "online",
                 "--set", "model_cfg.widths=[8, 16]", "--set", "bf16=false", "--set", "channels_last=false",
                 "--no-progress"])
    assert code == 0
    record = json.loads((tmp_path / "cli" / "distill.json").read_text())
    assert record["temperature"] == 2.0 and record["teacher_mode"] == "online"


def test_the_whole_augmented_face_holds_the_student_view():
    from ferkit.train.augment import AugmentConfig, augment_batch, augment_whole_batch

    images = torch.randint(0, 256, (32, 48, 48), dtype=torch.uint8)
    regions = torch.rand(32, 2, 4)
    for cfg in (AugmentConfig(), AugmentConfig(erase=1.0, noise=1.0, rotate=30.0)):
        view, moved = augment_batch(images, 40, cfg, torch.Generator().manual_seed(3), regions)
        crops, whole, moved_too = augment_whole_batch(images, 40, cfg, torch.Generator().manual_seed(3), regions)
        assert whole.shape == (32, 1, 48, 48)
        torch.testing.assert_close(crops, view, atol=1e-4, rtol=0)  # the same draws, the same pixels
        assert torch.equal(whole[..., 4:44, 4:44], crops)  # erasing and noise reach the teacher too
        torch.testing.assert_close(moved_too, moved)
    still = AugmentConfig(hflip=False, random_crop=False, scale_min=1, scale_max=1, aspect=0, rotate=0,
                          translate=0, erase=0)
    _, whole = augment_whole_batch(images, 40, still, torch.Generator().manual_seed(0))
    torch.testing.assert_close(whole[:, 0], images.float() / 255, atol=1e-5, rtol=0)


def test_an_online_teacher_judges_what_the_student_sees(teacher, tmp_path):
    from ferkit.infer.classifier import EmotionClassifier
    from ferkit.train.distill import OnlineTeacher

    model, ds = teacher
    faces = ds.images[:20]
    whole = torch.from_numpy(faces).float()[:, None] / 255
    clf = EmotionClassifier(model)
    for tta in ("none", "flip"):
        online = OnlineTeacher(model, tuple(ds.classes), 48, tta)
        np.testing.assert_allclose(online(whole).numpy(), clf.predict_proba(faces, tta), atol=1e-5)
    few = (ds.classes[2], ds.classes[0], ds.classes[1])  # a dataset with fewer classes, in another order
    expected = clf.predict_proba(faces)[:, [2, 0, 1]]
    np.testing.assert_allclose(OnlineTeacher(model, few, 48)(whole).numpy(),
                               expected / expected.sum(1, keepdims=True), atol=1e-5)
    with pytest.raises(InputError, match="none or flip"):
        OnlineTeacher(model, tuple(ds.classes), 48, "ten_crop")


def test_online_distillation_trains_on_what_the_teacher_saw(teacher, tmp_path, monkeypatch):
    import ferkit.train.trainer as trainer_module
    from ferkit.export.model_card import card_markdown
    from ferkit.train.distill import OnlineTeacher

    model, ds = teacher
    made, seen = [], []
    augment = trainer_module.augment_whole_batch
    judge = OnlineTeacher.__call__
    monkeypatch.setattr(trainer_module, "augment_whole_batch", lambda *a, **k: made.append(augment(*a, **k)) or made[-1])
    monkeypatch.setattr(OnlineTeacher, "__call__", lambda self, whole: seen.append(whole) or judge(self, whole))
    result = train(student_config(tmp_path / "on", model, teacher_mode="online", distill_alpha=1.0, seed=1),
                   dataset=ds, progress=False)
    n_train = int((ds.split == "train").sum())
    assert len(seen) == len(made) == n_train // 16  # one teacher pass per (whole) batch ...
    assert all(w is m[1] for w, m in zip(seen, made))  # ... on the very faces the student's crops came from
    record = json.loads((tmp_path / "on" / "distill.json").read_text())
    assert record["teacher_mode"] == "online" and "cache" not in record
    assert not list((tmp_path / "on").glob("teacher_*.npz"))  # nothing cached
    state = read_checkpoint(result.best_checkpoint)
    assert state["distillation"]["teacher_mode"] == "online"
    card = json.loads((Path(__file__).parents[2] / "src/ferkit/weights/ferkit_fast_fp32.json").read_text())
    card["compression"] = {"distillation": state["distillation"]}
    assert "every augmented training batch (online)" in card_markdown(card)

    # alpha 0: the teacher's term is off, and the online path draws the same augmentation as plain training
    monkeypatch.undo()
    train(student_config(tmp_path / "zero", model, teacher_mode="online", distill_alpha=0.0, seed=1), dataset=ds,
          progress=False)
    plain = student_config(tmp_path / "plain", model, seed=1)
    plain.teacher = None
    train(plain, dataset=ds, progress=False)
    a, b = (read_checkpoint(tmp_path / d / "last.pt")["state_dict"] for d in ("zero", "plain"))
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), atol=1e-3, rtol=1e-3)
    train(student_config(tmp_path / "cached", model, distill_alpha=1.0, seed=1), dataset=ds, progress=False)
    a, b = (read_checkpoint(tmp_path / d / "last.pt")["state_dict"] for d in ("on", "cached"))
    assert any(not torch.allclose(a[k].float(), b[k].float(), atol=1e-3) for k in a)  # other targets
    from ferkit.core.errors import OptionError

    with pytest.raises(OptionError, match="teacher_mode"):
        student_config(tmp_path / "x", model, teacher_mode="sometimes")


def test_resume_refuses_a_teacher_run_another_way(teacher, tmp_path):
    from dataclasses import replace

    from ferkit.core.errors import ResumeError

    model, ds = teacher
    cfg = student_config(tmp_path / "s", model, teacher_tta="none", epochs=2)
    train(replace(cfg, epochs=1), dataset=ds, progress=False)
    last = tmp_path / "s" / "last.pt"
    for changed in (dict(teacher_tta="flip"), dict(teacher_mode="online")):
        with pytest.raises(ResumeError, match="the teacher or how it is run changed"):
            train(replace(cfg, **changed), resume=last, dataset=ds, progress=False)
    # a checkpoint from before the teacher's TTA was recorded (its fingerprint: the teacher's digest) resumes
    state = read_checkpoint(last)
    legacy = Trainer(cfg, dataset=ds, progress=False)._training_set_fingerprint(legacy=True)
    assert legacy != state["resume"]["training_set"]
    state["resume"]["training_set"] = legacy
    torch.save(state, last)
    assert train(cfg, resume=last, dataset=ds, progress=False).epochs_run == 2  # the same teacher, run the same way
