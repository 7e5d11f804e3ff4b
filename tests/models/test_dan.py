"""DAN: shapes, heads, its own losses (affinity, partition), a training step through ferkit.train,
ONNX export parity, reset_classifier; and the trainer's loss for models without extra losses."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ferkit.core.labels import EMOTIONS
from ferkit.models import create, model_entry
from ferkit.models.dan import DAN, partition_loss
from ferkit.train import TrainConfig, augment_batch, train
from ferkit.train.trainer import Trainer

SMALL = {"widths": (8, 16), "blocks": (1, 1)}


def small(**kw) -> DAN:
    torch.manual_seed(0)
    return create("dan", **{**SMALL, **kw})


def test_registered_with_description_and_output_shape():
    entry = model_entry("dan")
    assert entry.input_size == 48 and entry.description and "\n" not in entry.description
    assert {"heads", "widths", "affinity_weight", "partition_weight"} <= set(entry.cfg_keys)
    model = small().eval()
    with torch.no_grad():
        out = model(torch.randn(5, 1, 48, 48))
    assert out.shape == (5, 7) and torch.isfinite(out).all()
    assert model.forward_features(torch.randn(2, 1, 48, 48)).shape == (2, 16)


@pytest.mark.parametrize("k", [1, 2, 6])
def test_heads_option(k):
    model = small(heads=k)
    assert model.num_heads == k and len(model.heads) == k
    _, heads = model.head_outputs(torch.randn(3, 1, 48, 48))
    assert heads.shape == (3, k, 16)
    assert model(torch.randn(3, 1, 48, 48)).shape == (3, 7)


def test_extra_losses_finite_with_gradients():
    model = small().train()
    x, y = torch.randn(6, 1, 48, 48), torch.tensor([0, 1, 2, 3, 4, 0])
    logits = model(x)
    losses = model.extra_losses(y)
    assert set(losses) == {"affinity", "partition"}
    for v in losses.values():
        assert v.dim() == 0 and torch.isfinite(v) and v.item() >= 0
    (F.cross_entropy(logits, y) + sum(losses.values())).backward()
    assert model.centers.grad is not None and model.centers.grad.abs().sum() > 0
    for p in model.heads.parameters():
        assert p.grad is not None
    assert model.heads[0].spatial.reduce[0].weight.grad.abs().sum() > 0
    # each loss alone reaches its parameters
    model.zero_grad()
    model(x)
    model.extra_losses(y)["affinity"].backward()
    assert model.centers.grad.abs().sum() > 0 and model.stem[0].weight.grad.abs().sum() > 0
    model.zero_grad()
    model(x)
    model.extra_losses(y)["partition"].backward()
    assert model.heads[1].channel.attention[0].weight.grad.abs().sum() > 0
    # consumed: no stale tensors; eval mode keeps nothing
    with pytest.raises(RuntimeError, match="forward pass"):
        model.extra_losses(y)
    model.eval()
    with torch.no_grad():
        model(x)
    assert model._last is None
    model.train()
    assert set(model.extra_losses(y, x=x)) == {"affinity", "partition"}


def test_loss_weights():
    x, y = torch.randn(4, 1, 48, 48), torch.tensor([0, 1, 2, 3])
    a = small().train()
    b = small(affinity_weight=0.0, partition_weight=2.5).train()
    a(x)
    b(x)
    la, lb = a.extra_losses(y), b.extra_losses(y)
    assert lb["affinity"].item() == 0.0
    torch.testing.assert_close(lb["partition"], 2.5 * la["partition"])


def test_partition_loss_lower_when_heads_differ():
    model = small(heads=3).train()
    x = torch.randn(8, 1, 48, 48)
    _, differ = model.head_outputs(x)
    same = copy.deepcopy(model)
    for h in same.heads[1:]:
        h.load_state_dict(same.heads[0].state_dict())
    _, identical = same.head_outputs(x)
    torch.testing.assert_close(identical[:, 0], identical[:, 2])
    assert partition_loss(identical).item() == pytest.approx(1.0)
    assert partition_loss(differ).item() < partition_loss(identical).item()
    # directly: spread-out head vectors give a lower loss than equal ones
    v = torch.rand(4, 1, 16).expand(4, 3, 16)
    assert partition_loss(v) == pytest.approx(1.0)
    assert partition_loss(v + torch.randn(4, 3, 16)) < 0.9
    assert partition_loss(torch.randn(4, 1, 16)).item() == 0.0


def test_reset_classifier():
    model = small()
    model.reset_classifier(8)
    assert model.num_classes == 8 and model.centers.shape == (8, 16)
    assert model.get_classifier().out_features == 8
    model.train()
    x = torch.randn(4, 1, 48, 48)
    assert model(x).shape == (4, 8)
    assert torch.isfinite(sum(model.extra_losses(torch.tensor([7, 6, 0, 1])).values()))


def tiny_config(out, **kw):
    base = dict(out=str(out), model="vgg_compact", model_cfg={"widths": (8, 16), "dropout": 0.0}, epochs=1,
                batch_size=16, lr=0.05, warmup_epochs=0.5, bf16=False, seed=3)
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_training_step_through_ferkit_train(tmp_path, toy_dataset):
    cfg = tiny_config(tmp_path / "run", model="dan", model_cfg={**SMALL, "heads": 2}, input_size=48)
    seen = []
    orig = DAN.extra_losses

    def spy(self, labels, x=None):
        out = orig(self, labels, x)
        seen.append({k: v.item() for k, v in out.items()})
        return out

    DAN.extra_losses = spy
    try:
        result = train(cfg, dataset=toy_dataset, progress=False)
    finally:
        DAN.extra_losses = orig
    assert result.epochs_run == 1 and seen  # the trainer asked for DAN's losses at every step
    assert all(np.isfinite(list(s.values())).all() for s in seen)
    from ferkit.models.checkpoint import load_checkpoint

    model, state = load_checkpoint(result.out / "last.pt")
    assert state["model"]["name"] == "dan"
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())


def test_trainer_loss_unchanged_for_other_models(tmp_path, toy_dataset):
    """A vgg_compact step's loss is plain cross-entropy, computed directly from the same batch."""
    t = Trainer(tiny_config(tmp_path / "vgg"), dataset=toy_dataset, progress=False)
    t.steps_per_epoch = 1
    before = copy.deepcopy(t.model)
    rng = np.random.default_rng()
    rng.bit_generator.state = copy.deepcopy(t.rng.bit_generator.state)
    g = torch.Generator()
    g.set_state(t.generator.get_state())
    loss, _ = t._train_epoch()
    idx = torch.from_numpy(rng.permutation(t.train_idx)[: t.cfg.batch_size])
    x = augment_batch(torch.from_numpy(toy_dataset.images)[idx], t.input_size, t.cfg.augment, g)
    x = (x - t.preprocess["mean"]) / t.preprocess["std"]
    y = torch.from_numpy(toy_dataset.labels)[idx]
    before.train()
    with torch.no_grad():
        expected = F.cross_entropy(before(x), y, weight=t.weights, label_smoothing=t.cfg.label_smoothing)
    assert loss == pytest.approx(expected.item(), rel=1e-6)


def test_onnx_export_parity(tmp_path):
    from ferkit.export import export_onnx, max_abs_difference
    from ferkit.models.checkpoint import save_checkpoint

    model = small(heads=3)
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    pre = {"image_size": 48, "input_size": 48, "mean": 0.5, "std": 0.25}
    ckpt = save_checkpoint(tmp_path / "dan.pt", model, EMOTIONS, pre)
    out = export_onnx(ckpt, tmp_path / "dan.onnx")
    assert max_abs_difference(ckpt, out, n=5) < 1e-4
