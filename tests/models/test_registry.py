import pytest
import torch

from ferkit.models import count_parameters, create, list_models, model_entry


def test_required_models_registered():
    assert {"vgg", "vgg_compact", "resnet", "mini_xception"} <= set(list_models())
    assert list_models("vgg*") == ["vgg", "vgg_compact"]


@pytest.mark.parametrize("name", ["vgg", "vgg_compact", "resnet", "mini_xception"])
def test_shapes(name):
    size = model_entry(name).input_size
    model = create(name, num_classes=8).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 1, size, size))
    assert out.shape == (3, 8)
    assert model.ferkit_cfg["name"] == name and model.ferkit_cfg["num_classes"] == 8


def test_parameter_counts():
    # mini-Xception is the ~60k-parameter model of Arriaga et al.; VGG is the 4-stage 64..512 net
    assert 50_000 < count_parameters(create("mini_xception")) < 65_000
    assert 9_000_000 < count_parameters(create("vgg")) < 12_000_000
    assert 1_000_000 < count_parameters(create("vgg_compact")) < 1_300_000


def test_vgg_config_and_errors():
    m = create("vgg", widths=(8, 16), fc_dims=(32,), input_size=32)
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    with pytest.raises(KeyError, match="unknown model"):
        create("no_such_model")
    with pytest.raises(ValueError, match="head"):
        create("vgg", head="transformer")
