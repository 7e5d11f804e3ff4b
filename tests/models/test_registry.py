import pytest
import torch

from ferkit.core.errors import OptionError
from ferkit.models import count_parameters, create, list_models, model_entry


def test_required_models_registered():
    assert {"vgg", "vgg_compact", "resnet", "mini_xception"} <= set(list_models())
    assert list_models("vgg*") == ["vgg", "vgg19", "vgg_compact"]


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
    with pytest.raises(OptionError, match="unknown model 'no_such_model'; registered models: .*mini_xception"):
        create("no_such_model")
    with pytest.raises(OptionError, match="vgg.head must be one of fc, gap"):
        create("vgg", head="transformer")


def test_unknown_or_bad_options_are_option_errors():
    # an unknown key names itself and lists the model's options
    with pytest.raises(OptionError, match=r"unknown model options 'width' for model 'vgg'; allowed: widths, head, fc_dims, dropout"):
        create("vgg", width=(8, 16))
    with pytest.raises(OptionError, match="allowed: base, widths"):
        create("mini_xception", dropout=0.5)
    with pytest.raises(OptionError, match="allowed: widths, blocks, dropout"):
        create("resnet", base=4)
    with pytest.raises(OptionError, match="num_classes must be >= 1, got 0"):
        create("resnet", num_classes=0)
    with pytest.raises(OptionError, match="resnet.dropout must be in"):
        create("resnet", dropout=1.0)
    with pytest.raises(OptionError, match="resnet.widths and resnet.blocks"):
        create("resnet", widths=(8, 16), blocks=(1,))
    with pytest.raises(OptionError, match="vgg_compact.widths|vgg.widths"):
        create("vgg_compact", widths="8,16")
    with pytest.raises(OptionError, match="too small"):
        create("vgg", input_size=8)


def test_macs_are_counted_by_torch_not_by_hand():
    from torch import nn

    from ferkit.models import count_macs

    conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
    assert count_macs(conv, 8) == 4 * 9 * 8 * 8  # one multiply-accumulate per weight and output pixel
    assert count_macs(nn.Sequential(nn.Flatten(), nn.Linear(64, 7)), 8) == 64 * 7
    macs = count_macs(create("vgg_compact"), 40)
    assert 75e6 < macs < 90e6  # ~80M per 40 px face, as measured in shared/notes/cpu-training.md


def test_models_command_shows_macs_and_measures_speed(capsys):
    from ferkit.cli import main

    assert main(["models", "mini_*", "--speed", "--threads", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "MACs/face" in out[0] and "faces/s" in out[0]
    row = out[1].split()
    assert row[0] == "mini_xception" and row[2] == "5.5M" and float(row[3]) > 0
