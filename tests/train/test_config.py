"""TrainConfig and AugmentConfig check every field when they are made, before any data loads."""

import pytest

from ferkit.core.errors import MissingInputError, OptionError
from ferkit.train import AugmentConfig, TrainConfig, load_config
from ferkit.train.config import read_config_file

BAD = [
    ({"batch_size": 0}, r"batch_size must be >= 1, got 0"),
    ({"batch_size": 8.0}, r"batch_size must be an integer >= 1, got 8.0"),
    ({"epochs": "abc"}, r"epochs must be an integer >= 1, got 'abc'"),
    ({"epochs": 0}, r"epochs must be >= 1, got 0"),
    ({"epochs": True}, r"epochs must be an integer"),
    ({"lr": 0}, r"lr must be > 0.0, got 0"),
    ({"lr": -0.1}, r"lr must be > 0.0, got -0.1"),
    ({"lr": "fast"}, r"lr must be a number > 0.0, got 'fast'"),
    ({"lr": float("nan")}, r"lr must be a number"),
    ({"optimizer": "lion"}, r"optimizer must be one of sgd, adam, adamw; got 'lion'"),
    ({"scheduler": "step"}, r"scheduler must be one of cosine, plateau, none; got 'step'"),
    ({"class_weights": "inverse"}, r"class_weights must be one of none, balanced, sqrt; got 'inverse'"),
    ({"bf16": "yes"}, r"bf16 must be true, false or \"auto\", got 'yes'"),
    ({"bf16": 1}, r"bf16 must be true, false or \"auto\", got 1"),
    ({"model": "vit"}, r"model must be one of dan, mini_xception, mobilenet_v2, regions, resnet, resnet18, vgg, vgg19, vgg_compact, xception; got 'vit'"),
    ({"model_cfg": {"width": 8}}, r"unknown model_cfg keys 'width' for model 'vgg_compact'; allowed: widths, head"),
    ({"model_cfg": {"num_classes": 3}}, r"model_cfg.num_classes cannot be set"),
    ({"model_cfg": 5}, r"model_cfg must be a table"),
    ({"augment": {"rotate": "abc"}}, r"augment.rotate must be a number in \[0.0, 180.0\], got 'abc'"),
    ({"augment": {"erase": 1.5}}, r"augment.erase must be in \[0.0, 1.0\], got 1.5"),
    ({"augment": {"hflip": "no"}}, r"augment.hflip must be true or false, got 'no'"),
    ({"augment": {"scale_min": 1.2, "scale_max": 1.1}}, r"augment.scale_min \(1.2\) must not exceed"),
    ({"augment": {"rotat": 5}}, r"unknown augment keys \['rotat'\]"),
    ({"augment": 5}, r"augment must be a table of augmentation settings .*got 5"),
    ({"augment": [1, 2]}, r"augment must be a table"),
    ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\), got 1.0"),
    ({"momentum": -0.5}, r"momentum must be in \[0, 1\), got -0.5"),
    ({"momentum": "high"}, r"momentum must be a number in \[0, 1\), got 'high'"),
    ({"val_fraction": 0}, r"val_fraction must be in \(0, 1\), got 0"),
    ({"val_fraction": 1}, r"val_fraction must be in \(0, 1\)"),
    ({"plateau_factor": 1.0}, r"plateau_factor must be in \(0, 1\)"),
    ({"label_smoothing": 2}, r"label_smoothing must be in \[0.0, 1.0\]"),
    ({"seed": -1}, r"seed must be >= 0"),
    ({"threads": 1.5}, r"threads must be an integer"),
    ({"channels_last": "yes"}, r"channels_last must be true or false"),
    ({"early_stopping": -1}, r"early_stopping must be >= 0"),
    ({"format": "jpg"}, r"format must be one of fer2013-npz"),
    ({"input_size": 64}, r"input_size 64 must not exceed image_size 48"),
    ({"model": "vgg", "image_size": 40}, r"model 'vgg' takes 48-pixel input \(its default input_size\), more than image_size 40"),
    ({"image_size": "48"}, r"image_size must be an integer"),
    ({"out": ""}, r"out must name an output folder"),
    ({"data": 5}, r"data must be a string"),
]


@pytest.mark.parametrize("fields,message", BAD, ids=[next(iter(f)) + "=" + repr(f[next(iter(f))]) for f, _ in BAD])
def test_bad_fields_are_refused_naming_the_field(fields, message):
    with pytest.raises(OptionError, match=message):
        TrainConfig(**fields)
    with pytest.raises(OptionError, match=message):
        TrainConfig.from_dict(fields)


@pytest.mark.parametrize("override,message", [
    ("epochs=abc", "epochs must be an integer >= 1, got 'abc'"),
    ("epochs=0", "epochs must be >= 1, got 0"),
    ("batch_size=0", "batch_size must be >= 1"),
    ("lr=0", "lr must be > 0"),
    ("optimizer=lion", "optimizer must be one of sgd, adam, adamw"),
    ("augment.rotate=abc", "augment.rotate must be a number"),
    ("augment=5", "augment must be a table"),
    ("bf16=maybe", "bf16 must be true, false"),
    ("model=vit", "model must be one of"),
    ("model_cfg.widths=(8, 16)", None),
    ("epoch=3", r"unknown config keys \['epoch'\]"),
    ("epochs", "must look like key=value"),
])
def test_overrides_are_checked(override, message):
    if message is None:
        assert load_config(None, [override]).model_cfg == {"widths": (8, 16)}
        return
    with pytest.raises(OptionError, match=message):
        load_config(None, [override])


def test_override_into_a_non_table_is_refused(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("augment = 5\n")
    with pytest.raises(OptionError, match="override 'augment.rotate=5': augment is not a table"):
        load_config(f, ["augment.rotate=5"])
    with pytest.raises(OptionError, match="augment must be a table"):
        load_config(f)


def test_integers_where_floats_are_expected_are_fine(tmp_path):
    cfg = TrainConfig(lr=1, warmup_epochs=0, weight_decay=0, augment={"rotate": 5, "scale_min": 1, "scale_max": 1})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and isinstance(cfg.warmup_epochs, float)
    assert isinstance(cfg.augment, AugmentConfig) and cfg.augment.rotate == 5.0
    assert isinstance(cfg.augment.rotate, float)
    assert load_config(None, ["lr=1", "augment.translate=0"]).lr == 1.0
    f = tmp_path / "c.yaml"
    f.write_text("lr: 1e-3\nweight_decay: 5e-4\nepochs: 3\n")  # YAML 1.1 would read 1e-3 as a string
    cfg = load_config(f)
    assert (cfg.lr, cfg.weight_decay, cfg.epochs) == (0.001, 0.0005, 3)
    assert AugmentConfig(noise=1).noise == 1.0
    with pytest.raises(OptionError, match="augment.rotate"):
        AugmentConfig(rotate="abc")


def test_the_bundled_config_is_valid():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "fer2013_vgg_compact.toml")
    assert cfg.model == "vgg_compact" and cfg.input_size == 40 and cfg.model_cfg == {"dropout": 0.4}


def test_checks_come_before_the_data_is_read(tmp_path):
    # a missing dataset is not reached: the bad option is reported first
    with pytest.raises(OptionError, match="epochs must be >= 1"):
        load_config(None, [f"data={str(tmp_path / 'missing.npz')!r}", "epochs=0"])


def test_config_files_with_a_bad_top_level_or_syntax(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- epochs: 3\n- lr: 0.1\n")
    with pytest.raises(OptionError, match=r"list.yaml: the top level of a config must be a table .* got a list"):
        load_config(listed)
    scalar = tmp_path / "scalar.yml"
    scalar.write_text("42\n")
    with pytest.raises(OptionError, match=r"scalar.yml: the top level .* got a int"):
        read_config_file(scalar)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("epochs: 3\naugment:\n  rotate: [5, 10\n  erase: 0\n")
    with pytest.raises(OptionError, match=r"bad.yaml: not valid YAML at line \d+, column \d+"):
        load_config(bad_yaml)
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('model = "resnet"\nepochs = \n')
    with pytest.raises(OptionError, match=r"bad.toml: not valid TOML: .*line 2"):
        load_config(bad_toml)
    toml_list = tmp_path / "list.toml"
    toml_list.write_text("[[runs]]\nepochs = 3\n")  # TOML's top level is a table; an array of tables is a key
    with pytest.raises(OptionError, match=r"unknown config keys \['runs'\]"):
        load_config(toml_list)
    with pytest.raises(OptionError, match=r"\.json: a config must be \.toml, \.yaml or \.yml"):
        load_config(tmp_path / "c.json")
    with pytest.raises(MissingInputError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == TrainConfig()
