"""The contract every registered model follows (as timm's): forward_features, forward_head,
reset_classifier, get_classifier, num_classes; and the bundled weights still load and give the same logits."""

from pathlib import Path

import pytest
import torch

import ferkit
from ferkit.models import FerModel, create, list_models, model_entry
from ferkit.models.checkpoint import load_checkpoint, save_checkpoint

#: small variants, so that the contract test is quick; a model not listed here is tested at its defaults
TINY = {
    "vgg": {"widths": (8, 16), "fc_dims": (32,), "dropout": 0.5},
    "vgg_compact": {"widths": (8, 16), "dropout": 0.5},
    "resnet": {"widths": (8, 16), "blocks": (1, 1), "dropout": 0.5},
    "mini_xception": {"base": 4, "widths": (8, 16)},
    "vgg19": {"width": 0.125, "dropout": 0.5},
    "resnet18": {"width": 0.125, "dropout": 0.5},
    "mobilenet_v2": {"width_mult": 0.25, "dropout": 0.5},
    "xception": {"width": 0.125, "middle_repeats": 1, "dropout": 0.5},
    "dan": {"widths": (8, 16), "blocks": (1, 1), "heads": 2},
    "regions": {"channels": (4, 8), "hidden": 16, "features": 8, "mlp": 16},
}

#: the parameter names of the final layer: fixed, since saved checkpoints use them
CLASSIFIER_KEYS = {
    "vgg": ("head.8.weight", 54),
    "vgg_compact": ("head.3.weight", 50),
    "resnet": ("head.3.weight", 122),
    "mini_xception": ("head.0.weight", 94),
    "vgg19": ("head.3.weight", 98),
    "resnet18": ("head.3.weight", 122),
    "mobilenet_v2": ("head.3.weight", 314),
    "xception": ("head.3.weight", 276),
    "dan": ("head.1.weight", 276),
    "regions": ("head.3.weight", 28),
}


def test_every_model_has_tiny_settings_and_fixed_names():
    assert set(TINY) == set(list_models())
    for name, (key, n_keys) in CLASSIFIER_KEYS.items():
        state = create(name).state_dict()
        assert len(state) == n_keys, name
        assert state[key].shape[0] == 7, name
        assert list(state)[-2:] == [key, key.replace("weight", "bias")], name


@pytest.mark.parametrize("name", list_models())
def test_model_contract(name, tmp_path):
    torch.manual_seed(0)
    size = model_entry(name).input_size
    model = create(name, num_classes=5, **TINY.get(name, {}))
    assert isinstance(model, FerModel)
    assert model.num_classes == 5 and model.ferkit_cfg["num_classes"] == 5
    x = torch.randn(3, 1, size, size)

    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model.forward_head(feats)
        direct = model(x)
    assert feats.shape[0] == 3 and feats.dim() in (2, 4)
    assert logits.shape == (3, 5)
    torch.testing.assert_close(direct, logits, rtol=0, atol=0)
    assert model.get_classifier() is model.head[model.classifier_index]

    # a new class count: a fresh final layer; the features and parameter names stay
    names_before = list(model.state_dict())
    old_classifier = model.get_classifier()
    model.reset_classifier(8)
    assert model.num_classes == 8 and model.ferkit_cfg["num_classes"] == 8
    assert model.get_classifier() is not old_classifier
    assert list(model.state_dict()) == names_before
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(x), feats, rtol=0, atol=0)
        out = model(x)
    assert out.shape == (3, 8)
    torch.testing.assert_close(model.forward_head(model.forward_features(x)), out, rtol=0, atol=0)

    # the updated ferkit_cfg rebuilds the same model from a checkpoint
    path = save_checkpoint(tmp_path / "m.pt", model, [f"c{i}" for i in range(8)],
                           {"image_size": size, "input_size": size, "mean": 0.5, "std": 0.25})
    again, state = load_checkpoint(path)
    assert again.num_classes == 8 and state["model"]["num_classes"] == 8
    with torch.no_grad():
        torch.testing.assert_close(again(x), out)

    # one training step runs and changes the new classifier and the features
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    classifier_before = model.get_classifier().weight.detach().clone()
    y = torch.tensor([0, 7, 3])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    if hasattr(model, "extra_losses"):  # a model's own losses (DAN's class centres learn only from them)
        loss = loss + sum(model.extra_losses(y).values())
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
    changed = {k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])}
    assert not torch.equal(model.get_classifier().weight, classifier_before)
    assert len(changed) > 2  # more than the classifier's weight and bias


def test_reset_classifier_refuses_bad_counts():
    from ferkit.core.errors import OptionError

    model = create("vgg_compact", **TINY["vgg_compact"])
    with pytest.raises(OptionError, match="num_classes must be >= 1, got 0"):
        model.reset_classifier(0)
    with pytest.raises(OptionError, match="num_classes"):
        model.reset_classifier("8")
    assert model.num_classes == 7


# logits of the bundled default model for a fixed input: computed before the model contract was added, and again
# (from the file, by the same code) whenever the bundled weights change; now those of v1.6
DEFAULT_LOGITS = [
    [0.07679621875286102, -1.1287298202514648, -0.4448835849761963, 0.23492668569087982,
     0.6581861972808838, -0.4876076579093933, 1.1154508590698242],
    [0.11309932172298431, -1.2224844694137573, -0.5392633080482483, 0.2005281001329422,
     0.7219973802566528, -0.42966461181640625, 1.1733741760253906],
]


def test_bundled_weights_load_and_give_the_same_logits():
    path = Path(ferkit.__file__).parent / "weights" / "ferkit_default.pt"
    model, state = load_checkpoint(path)  # strict: every parameter name as saved
    assert state["model"]["name"] == "vgg_compact" and model.num_classes == 7
    s = state["model"]["input_size"]
    i = torch.arange(2 * s * s, dtype=torch.float32).reshape(2, 1, s, s)
    x = torch.sin(i * 0.37) * torch.cos(i * 0.011)
    with torch.no_grad():
        direct = model(x)
        split = model.forward_head(model.forward_features(x))
    torch.testing.assert_close(split, direct, rtol=0, atol=0)
    torch.testing.assert_close(direct, torch.tensor(DEFAULT_LOGITS), rtol=0, atol=1e-4)
    # the checkpoint and the ONNX model shipped beside it are the same model
    from ferkit.export import max_abs_difference

    assert max_abs_difference(path, path.with_suffix(".onnx")) < 1e-4
