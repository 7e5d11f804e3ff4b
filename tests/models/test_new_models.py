"""The larger architectures: vgg19, resnet18, mobilenet_v2 and xception (sizes, options, ONNX export)."""

import numpy as np
import pytest
import torch

from ferkit.core.errors import OptionError
from ferkit.core.labels import EMOTIONS
from ferkit.models import count_parameters, create, list_models, model_entry
from ferkit.models.checkpoint import save_checkpoint

#: parameter counts at the default options (7 classes, 1 input channel), checked to within 1%
DEFAULT_PARAMS = {
    "vgg19": 20_032_327,
    "resnet18": 11_171_271,
    "mobilenet_v2": 2_232_263,
    "xception": 20_820_719,
}

#: the width option of each model and a reduced setting (for speed)
WIDTH_OPTION = {"vgg19": "width", "resnet18": "width", "mobilenet_v2": "width_mult", "xception": "width"}
SMALL = {
    "vgg19": {"width": 0.125},
    "resnet18": {"width": 0.125},
    "mobilenet_v2": {"width_mult": 0.25},
    "xception": {"width": 0.125, "middle_repeats": 1},
}
NEW = sorted(DEFAULT_PARAMS)


def test_registered_at_48_px_with_descriptions():
    assert set(NEW) <= set(list_models())
    assert {"resnet", "mini_xception", "vgg"} <= set(list_models())  # the compact ones stay
    for name in NEW:
        entry = model_entry(name)
        assert entry.input_size == 48
        assert entry.description and "\n" not in entry.description
        assert WIDTH_OPTION[name] in entry.cfg_keys


@pytest.mark.parametrize("name", NEW)
def test_default_parameter_count_and_output(name):
    model = create(name)
    n = count_parameters(model)
    assert abs(n - DEFAULT_PARAMS[name]) <= 0.01 * DEFAULT_PARAMS[name], n
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NEW)
def test_small_output_shape(name):
    model = create(name, **SMALL[name]).eval()
    with torch.no_grad():
        assert model(torch.randn(4, 1, 48, 48)).shape == (4, 7)
        assert create(name, num_classes=3, in_chans=3, **SMALL[name]).eval()(torch.randn(1, 3, 48, 48)).shape == (1, 3)


@pytest.mark.parametrize("name", NEW)
def test_width_changes_parameter_count(name):
    opt = WIDTH_OPTION[name]
    base = {k: v for k, v in SMALL[name].items() if k != opt}
    counts = [count_parameters(create(name, **base, **{opt: w})) for w in (0.125, 0.25, 0.5)]
    assert counts[0] < counts[1] < counts[2]
    assert count_parameters(create(name, **base, **{opt: 0.25})) == counts[1]  # deterministic


def test_xception_middle_repeats_changes_parameter_count():
    counts = [count_parameters(create("xception", width=0.125, middle_repeats=r)) for r in (0, 1, 2)]
    assert counts[0] < counts[1] < counts[2]
    assert counts[2] - counts[1] == counts[1] - counts[0]


@pytest.mark.parametrize(
    "name, options, option",
    [
        ("vgg19", {"width": 0}, "width"),
        ("vgg19", {"width": -1.0}, "width"),
        ("vgg19", {"width": "wide"}, "width"),
        ("vgg19", {"dropout": 1.0}, "dropout"),
        ("resnet18", {"width": 0.0}, "width"),
        ("resnet18", {"width": True}, "width"),
        ("resnet18", {"dropout": -0.1}, "dropout"),
        ("mobilenet_v2", {"width_mult": 0}, "width_mult"),
        ("mobilenet_v2", {"width_mult": None}, "width_mult"),
        ("mobilenet_v2", {"dropout": 1.5}, "dropout"),
        ("xception", {"middle_repeats": -1}, "middle_repeats"),
        ("xception", {"middle_repeats": 2.0}, "middle_repeats"),
        ("xception", {"width": 0}, "width"),
    ],
)
def test_invalid_options_name_the_option(name, options, option):
    with pytest.raises(OptionError, match=rf"{name}\.{option}"):
        create(name, **options)


@pytest.mark.parametrize("name", NEW)
def test_unknown_option_refused(name):
    with pytest.raises(OptionError, match="widths"):
        create(name, widths=(8, 16))


def test_vgg19_too_small_input():
    with pytest.raises(OptionError, match="input_size 8 is too small for vgg19"):
        create("vgg19", input_size=8, width=0.125)


@pytest.mark.parametrize("name", NEW)
def test_onnx_export_matches_pytorch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from ferkit.export.onnx import export_onnx, max_abs_difference

    torch.manual_seed(0)
    model = create(name, **SMALL[name])
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    model.eval()
    ckpt = save_checkpoint(tmp_path / "m.pt", model, EMOTIONS,
                           {"image_size": 48, "input_size": 48, "mean": 0.5, "std": 0.25})
    out = export_onnx(ckpt, tmp_path / "m.onnx")

    x = np.random.default_rng(1).standard_normal((3, 1, 48, 48)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert got.shape == ref.shape == (3, 7)
    assert np.abs(ref).max() > 1e-3  # not trivially zero
    assert float(np.abs(ref - got).max()) < 1e-4
    assert max_abs_difference(ckpt, out, n=2) < 1e-4
