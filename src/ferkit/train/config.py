"""Training configuration: a dataclass with a default for every field, read from TOML or YAML, with
``key=value`` overrides (dotted keys reach the ``augment`` and ``model_cfg`` sections).

Every field is checked when the config is made (``TrainConfig(...)``, ``TrainConfig.from_dict``,
``load_config``), before any data loads: a wrong type, a value out of range, an unknown name or key
raises :class:`~ferkit.core.errors.OptionError` naming the field and what is allowed."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.options import check_bool, check_choice, check_float, check_int, check_str
from ferkit.data.load import FORMATS
from ferkit.models.registry import BUILD_ARGS, check_model_cfg, list_models, model_entry
from ferkit.train.augment import AugmentConfig
from ferkit.train.balance import BALANCE, SMOTE_METHODS

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "plateau", "none")
CLASS_WEIGHTS = ("none", "balanced", "sqrt")


@dataclass
class TrainConfig:
    data: str = ""
    #: dataset format (None: recognised from the path); see ferkit.data.load.FORMATS
    format: str | None = None
    out: str = "runs/train"
    #: the architecture: a registered model name (``ferkit models``)
    model: str = "vgg_compact"
    model_cfg: dict[str, Any] = field(default_factory=dict)
    #: start from the weights of this checkpoint (same architecture and model_cfg); when its class
    #: count differs from the dataset's, the final classifier is replaced by a fresh one
    init_from: str | None = None
    #: with init_from: load only the tensors whose name and shape match the model this config builds (e.g. a
    #: pruned VGG's convolutions into vgg_compact, whose head differs); the rest start fresh, and are logged
    init_partial: bool = False
    #: faces are resized to image_size; the model sees input_size crops (None: the model's default)
    image_size: int = 48
    input_size: int | None = None
    epochs: int = 60
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd (Nesterov) | adam | adamw
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"  # cosine (with warm-up) | plateau | none
    warmup_epochs: float = 2.0
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    early_stopping: int = 0  # epochs without validation improvement before stopping; 0 = off
    label_smoothing: float = 0.1
    #: exponential moving average of the weights, updated every step (0: off; 0.999 averages over
    #: roughly the last 1000 steps); when on, validation, best.pt and the exported model use the average
    ema_decay: float = 0.0
    #: the average's batch-norm statistics: "average" (averaged like the weights) or "recalibrate" (re-estimated
    #: on clean training faces before each validation, as SWA's update_bn does), for models whose averaged
    #: statistics do not fit their averaged weights (a wide mini-Xception's average predicted one class)
    ema_bn: str = "average"
    class_weights: str = "none"  # none | balanced | sqrt
    #: class-imbalance handling (ferkit.train.balance): none | class_weights (weighted loss; the class_weights
    #: mode, balanced when that is none) | sampler (inverse-frequency sampling each epoch) | ros | smote |
    #: smote_tomek | smote_enn (imbalanced-learn resampling of the training split: pip install ferkit[imbalance])
    balance: str = "none"
    #: > 0: the SMOTE variants interpolate in a PCA space of this many components (0: in pixel space)
    balance_pca: int = 0
    seed: int = 0
    #: bf16 autocast: "auto" turns it on only where the CPU has native bf16 (AVX512-BF16 or AMX);
    #: without it bf16 is emulated and many times slower than fp32
    bf16: bool | str = "auto"
    channels_last: bool = True
    threads: int = 0  # 0: PyTorch's default
    #: for datasets without an official split: grouped validation fraction
    val_fraction: float = 0.15
    #: other datasets (paths) added to the training split only, their classes mapped to the main
    #: dataset's by name; images of classes the model lacks are dropped (ferkit.train.extra)
    extra_train: list[str] = field(default_factory=list)
    #: drop training images that are near-duplicates (pHash, mirrored copies included) of a validation or
    #: test image; the count goes into train_set.json (ferkit.train.subset)
    exclude_test_near_duplicates: bool = False
    #: > 0: train on a seeded, class-stratified subset of this many training images (quick studies)
    train_limit: int = 0
    #: knowledge distillation (ferkit.train.distill): a teacher model file (ONNX, ensemble or checkpoint) whose
    #: softened probabilities join the hard labels: (1 - alpha) * CE + alpha * T^2 * KL
    teacher: str | None = None
    teacher_tta: str = "none"  # none | flip: how the teacher sees each training image
    #: cached: the teacher's probabilities for each clean training image, computed once; online: the teacher
    #: run on every batch as the student sees it (augmented), one teacher pass per batch
    teacher_mode: str = "cached"
    distill_temperature: float = 4.0
    distill_alpha: float = 0.5
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        """Check every field (see the module docstring); numbers meant as floats are stored as floats."""
        self.data = _path_str("data", self.data)
        self.format = check_choice("", "format", self.format, FORMATS, optional=True)
        self.out = _path_str("out", self.out)
        if not self.out:
            raise OptionError("out must name an output folder, got ''")
        self.model = check_choice("", "model", self.model, list_models())
        if self.model_cfg is None:  # an empty YAML section
            self.model_cfg = {}
        if not isinstance(self.model_cfg, dict):
            raise OptionError(f"model_cfg must be a table of model options (e.g. [model_cfg] in TOML), "
                              f"got {self.model_cfg!r}")
        for key in BUILD_ARGS:
            if key in self.model_cfg:
                hint = ("it follows the dataset's classes" if key == "num_classes"
                        else "ferkit trains on grayscale faces" if key == "in_chans" else "use input_size")
                raise OptionError(f"model_cfg.{key} cannot be set: {hint}")
        check_model_cfg(self.model, self.model_cfg, where="model_cfg keys")
        self.init_from = _path_str("init_from", self.init_from, optional=True) or None
        if not isinstance(self.init_partial, bool):
            raise OptionError(f"init_partial must be true or false, got {self.init_partial!r}")
        if self.init_partial and not self.init_from:
            raise OptionError("init_partial needs init_from: the checkpoint to take matching weights from")
        self.image_size = check_int("", "image_size", self.image_size, lo=8, hi=1024)
        self.input_size = check_int("", "input_size", self.input_size, lo=8, hi=1024, optional=True)
        size = self.input_size or model_entry(self.model).input_size
        if size > self.image_size and self.input_size:
            raise OptionError(f"input_size {size} must not exceed image_size {self.image_size} "
                              "(the model sees crops of the image_size faces)")
        if size > self.image_size:
            raise OptionError(f"model {self.model!r} takes {size}-pixel input (its default input_size), more than "
                              f"image_size {self.image_size}: set input_size <= image_size, or a larger image_size")
        self.epochs = check_int("", "epochs", self.epochs, lo=1)
        self.batch_size = check_int("", "batch_size", self.batch_size, lo=1)
        self.optimizer = check_choice("", "optimizer", self.optimizer, OPTIMIZERS)
        self.lr = check_float("", "lr", self.lr, lo=0.0, lo_open=True)
        self.momentum = _check_below_one("momentum", self.momentum)
        self.weight_decay = check_float("", "weight_decay", self.weight_decay, lo=0.0)
        self.scheduler = check_choice("", "scheduler", self.scheduler, SCHEDULERS)
        self.warmup_epochs = check_float("", "warmup_epochs", self.warmup_epochs, lo=0.0)
        self.plateau_factor = _check_below_one("plateau_factor", self.plateau_factor, lo_open=True)
        self.plateau_patience = check_int("", "plateau_patience", self.plateau_patience, lo=0)
        self.early_stopping = check_int("", "early_stopping", self.early_stopping, lo=0)
        self.label_smoothing = check_float("", "label_smoothing", self.label_smoothing, lo=0.0, hi=1.0)
        self.ema_decay = _check_below_one("ema_decay", self.ema_decay)
        self.ema_bn = check_choice("", "ema_bn", self.ema_bn, ("average", "recalibrate"))
        self.class_weights = check_choice("", "class_weights", self.class_weights, CLASS_WEIGHTS)
        self.balance = check_choice("", "balance", self.balance, BALANCE)
        self.balance_pca = check_int("", "balance_pca", self.balance_pca, lo=0)
        if self.balance not in ("none", "class_weights") and self.class_weights != "none":
            raise OptionError(f"balance = {self.balance!r} and class_weights = {self.class_weights!r} both correct "
                              "the class imbalance: keep one (class_weights = \"none\", or balance = \"class_weights\")")
        if self.balance_pca and self.balance not in SMOTE_METHODS:
            raise OptionError(f"balance_pca applies to balance = {', '.join(SMOTE_METHODS)}; "
                              f"balance is {self.balance!r}")
        self.seed = check_int("", "seed", self.seed, lo=0)
        if not (isinstance(self.bf16, bool) or self.bf16 == "auto"):
            raise OptionError(f"bf16 must be true, false or \"auto\", got {self.bf16!r}")
        self.channels_last = check_bool("", "channels_last", self.channels_last)
        self.threads = check_int("", "threads", self.threads, lo=0)
        self.val_fraction = _check_below_one("val_fraction", self.val_fraction, lo_open=True)
        self.extra_train = _path_list("extra_train", self.extra_train)
        self.exclude_test_near_duplicates = check_bool("", "exclude_test_near_duplicates",
                                                       self.exclude_test_near_duplicates)
        self.train_limit = check_int("", "train_limit", self.train_limit, lo=0)
        self.teacher = _path_str("teacher", self.teacher, optional=True) or None
        self.teacher_tta = check_choice("", "teacher_tta", self.teacher_tta, ("none", "flip"))
        self.teacher_mode = check_choice("", "teacher_mode", self.teacher_mode, ("cached", "online"))
        self.distill_temperature = check_float("", "distill_temperature", self.distill_temperature, lo=0.0,
                                               lo_open=True, hi=100.0)
        self.distill_alpha = check_float("", "distill_alpha", self.distill_alpha, lo=0.0, hi=1.0)
        self.augment = AugmentConfig.from_dict(self.augment)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise OptionError(f"a training config must be a table of key = value settings, got {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise OptionError(f"unknown config keys {sorted(map(str, unknown))}; known: {sorted(known)}")
        d = dict(d)
        if "augment" in d:
            d["augment"] = AugmentConfig.from_dict(d["augment"])
        return cls(**d)


def _path_str(name: str, value: Any, optional: bool = False) -> str | None:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return check_str("", name, value, optional=optional)


def _path_list(name: str, value: Any) -> list[str]:
    """A list of non-empty path strings (None: an empty list)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise OptionError(f"{name} must be a list of dataset paths (e.g. [\"other/\"]), got {value!r}")
    paths = []
    for item in value:
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if not isinstance(item, str) or not item:
            raise OptionError(f"{name} must be a list of dataset paths (strings), got {item!r} in {value!r}")
        paths.append(item)
    return paths


def _check_below_one(name: str, value: Any, lo_open: bool = False) -> float:
    """A number in [0, 1) (or (0, 1) with ``lo_open``)."""
    allowed = f"in {'(' if lo_open else '['}0, 1)"
    try:
        v = check_float("", name, value)
    except OptionError:
        raise OptionError(f"{name} must be a number {allowed}, got {value!r}") from None
    if v < 0 or v >= 1 or (lo_open and v == 0):
        raise OptionError(f"{name} must be {allowed}, got {value}")
    return v


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_bf16(value: bool | str) -> bool:
    if value == "auto":
        return cpu_has_native_bf16()
    if isinstance(value, bool):
        return value
    raise OptionError(f"bf16 must be true, false or \"auto\", got {value!r}")


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.2 numbers: ``1e-3`` is a float (PyYAML's YAML 1.1 rules read it as a string)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings table of a TOML or YAML file; a malformed file is an OptionError naming the file and
    the line the parser stopped at."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise OptionError(f"{path}: a config must be .toml, .yaml or .yml")
    if not path.exists():
        raise MissingInputError(f"{path}: no such config file")
    if not path.is_file():
        raise InputError(f"{path}: a config must be a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise OptionError(f"{path}: not a UTF-8 text file ({exc})") from exc
    if suffix == ".toml":
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise OptionError(f"{path}: not valid TOML: {exc}") from exc
    else:
        try:
            d = yaml.load(text, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise OptionError(f"{path}: not valid YAML{where}: {problem}") from exc
        if d is None:
            d = {}
    if not isinstance(d, dict):
        raise OptionError(
            f"{path}: the top level of a config must be a table of key = value settings, got a {type(d).__name__}"
        )
    return d


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings (``augment.rotate=15``, ``model_cfg.dropout=0.3``)."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}
    for item in overrides:
        if "=" not in item:
            raise OptionError(f"override {item!r} must look like key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise OptionError(f"override {item!r}: {key.strip()!r} is not a key")
        target = d
        for i, p in enumerate(parts[:-1]):
            target = target.setdefault(p, {})
            if not isinstance(target, dict):
                raise OptionError(f"override {item!r}: {'.'.join(parts[: i + 1])} is not a table")
        target[parts[-1]] = _parse_value(value.strip())
    return d


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    d = read_config_file(path) if path else {}
    return TrainConfig.from_dict(apply_overrides(d, overrides or []))


def run_config(checkpoint: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The config a run's checkpoint was trained with (the ``train_config`` it records), with ``overrides``
    applied (``epochs=60`` to extend it, ``data=...`` where the dataset has moved): what ``ferkit train
    --resume CHECKPOINT`` continues when no ``--config`` is given."""
    from ferkit.models.checkpoint import read_checkpoint  # (loads PyTorch)

    saved = read_checkpoint(checkpoint).get("train_config")
    if not isinstance(saved, dict):
        raise InputError(f"{checkpoint} records no training config (not written by ferkit train): "
                         "give the run's --config to resume it")
    try:
        return TrainConfig.from_dict(apply_overrides(saved, overrides or []))
    except OptionError as exc:
        raise OptionError(f"{checkpoint}: its recorded training config: {exc}") from exc
