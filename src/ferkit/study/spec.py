"""A study file (TOML): a base training config and a list of runs, each a set of overrides trained
with one or more seeds, plus what to evaluate them on.

    name = "architectures"                 # default: the file's stem
    description = "..."
    base = "../fer2013_vgg_compact.toml"   # a training config (relative to this file); optional
    data = "fer2013"                       # a dataset path (relative to this file) or a shared dataset name
    seeds = [0]                            # every run is trained once per seed
    cross = ["ckplus"]                     # datasets evaluated whole, across label sets
    [set]                                  # overrides for every run (any training config key)
    epochs = 10
    [[runs]]
    name = "vgg_compact"
    set = { model = "vgg_compact" }
    [ensemble]                             # optional: an ensemble of chosen runs (every seed of each)
    runs = ["vgg_compact", "resnet"]

Everything is checked when the file is read: unknown keys, run names, and every run's training
config (built as the trainer will build it), so a typo stops the study before any training."""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferkit.core.errors import MissingInputError, OptionError
from ferkit.data.load import find_dataset
from ferkit.train.config import TrainConfig, read_config_file

STUDY_KEYS = {"name", "description", "base", "data", "seeds", "cross", "set", "runs", "ensemble"}
RUN_KEYS = {"name", "set", "seeds", "description"}
ENSEMBLE_KEYS = {"runs", "name", "weights"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
#: keys the study itself sets in every run's config
STUDY_OWNED = ("data", "out", "seed")


@dataclass(frozen=True)
class RunSpec:
    name: str
    overrides: dict[str, Any]
    seeds: tuple[int, ...]
    description: str = ""


@dataclass(frozen=True)
class EnsembleSpec:
    runs: tuple[str, ...]
    name: str = "ensemble"
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class StudySpec:
    path: Path
    name: str
    data: str
    runs: tuple[RunSpec, ...]
    base: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    cross: tuple[str, ...] = ()
    description: str = ""
    ensemble: EnsembleSpec | None = None

    def run_config(self, run: RunSpec, seed: int, out: str | Path, epochs: int | None = None,
                   limit: int | None = None) -> TrainConfig:
        """The training config of ``run`` with ``seed``: base, then the study's overrides, then the
        run's, then what the study sets (data, output folder, seed, and the quick-version limits)."""
        d = merge(merge(self.base, self.overrides), run.overrides)
        d.update({"data": self.data, "out": str(out), "seed": seed})
        if epochs is not None:
            d["epochs"] = epochs
        if limit is not None:
            d["train_limit"] = limit
        try:
            return TrainConfig.from_dict(d)
        except OptionError as exc:
            raise OptionError(f"{self.path}: run {run.name!r}: {exc}") from None

    def run_names(self) -> list[str]:
        return [r.name for r in self.runs]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, tables merged key by key (a copy; neither is changed)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_dataset(value: str, here: Path, what: str) -> str:
    """A dataset given in a study file: a path relative to the file, an absolute or working-directory
    path, or the name of a shared dataset (``fer2013``, ``ckplus``)."""
    for candidate in (here / value, Path(value)):
        if candidate.exists():
            return str(candidate)
    name = Path(value).name.removesuffix(".npz")
    found = find_dataset(name)
    if found is not None:
        return str(found)
    raise MissingInputError(f"{what}: {value!r} is neither a dataset path (beside the study file or from here) nor a "
                            f"shared dataset (set FERKIT_DATA or put {name}.npz in ../shared/datasets)")


def _check_keys(where: str, d: Any, allowed: set[str]) -> dict:
    if not isinstance(d, dict):
        raise OptionError(f"{where} must be a table, got {d!r}")
    unknown = set(d) - allowed
    if unknown:
        raise OptionError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return d


def _seeds(where: str, value: Any) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        raise OptionError(f"{where} must be a non-empty list of whole numbers >= 0, got {value!r}")
    if len(set(value)) != len(value):
        raise OptionError(f"{where} lists a seed twice: {value}")
    return tuple(value)


def _overrides(where: str, value: Any) -> dict[str, Any]:
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise OptionError(f"{where} must be a table of training config keys, got {value!r}")
    owned = sorted(set(value) & set(STUDY_OWNED))
    if owned:
        raise OptionError(f"{where}: {', '.join(owned)} are set by the study (data at the top of the file, seeds "
                          "in `seeds`, the output folder by --out)")
    return value


def read_study(path: str | Path, data: str | None = None) -> StudySpec:
    """Read and check a study file; ``data`` replaces its dataset."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: no such study file")
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: not a valid TOML study file: {exc}") from exc
    _check_keys(str(path), d, STUDY_KEYS)
    here = path.parent
    name = d.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise OptionError(f"{path}: name must be letters, digits and _.+- , got {name!r}")
    base: dict[str, Any] = {}
    if d.get("base"):
        base_path = here / d["base"]
        if not base_path.is_file():
            raise MissingInputError(f"{path}: base config {d['base']!r} not found (looked for {base_path})")
        base = read_config_file(base_path)
    if data is None and "data" not in d:
        raise OptionError(f"{path}: no dataset: give data = \"...\" in the file or --data")
    dataset = resolve_dataset(data, Path("."), "--data") if data is not None else resolve_dataset(
        d["data"], here, f"{path}: data")
    seeds = _seeds(f"{path}: seeds", d.get("seeds", [0]))
    overrides = _overrides(f"{path}: [set]", d.get("set"))
    cross = d.get("cross", [])
    if not isinstance(cross, list) or not all(isinstance(c, str) for c in cross):
        raise OptionError(f"{path}: cross must be a list of dataset paths or names, got {cross!r}")
    cross_paths = tuple(resolve_dataset(c, here, f"{path}: cross") for c in cross)
    runs_raw = d.get("runs")
    if not isinstance(runs_raw, list) or not runs_raw:
        raise OptionError(f"{path}: a study needs at least one [[runs]] entry")
    runs = []
    for i, r in enumerate(runs_raw, start=1):
        _check_keys(f"{path}: run {i}", r, RUN_KEYS)
        rname = r.get("name")
        if not isinstance(rname, str) or not _NAME.match(rname):
            raise OptionError(f"{path}: run {i} needs a name of letters, digits and _.+- , got {rname!r}")
        runs.append(RunSpec(rname, _overrides(f"{path}: run {rname!r} set", r.get("set")),
                            _seeds(f"{path}: run {rname!r} seeds", r["seeds"]) if "seeds" in r else seeds,
                            str(r.get("description", ""))))
    names = [r.name for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise OptionError(f"{path}: run names must differ; {', '.join(twice)} appear twice")
    ensemble = None
    if "ensemble" in d:
        e = _check_keys(f"{path}: [ensemble]", d["ensemble"], ENSEMBLE_KEYS)
        chosen = e.get("runs")
        if not isinstance(chosen, list) or len(chosen) < 1 or not all(isinstance(c, str) for c in chosen):
            raise OptionError(f"{path}: [ensemble] runs must list run names, got {chosen!r}")
        missing = [c for c in chosen if c not in names]
        if missing:
            raise OptionError(f"{path}: [ensemble] names runs the study does not have: {', '.join(missing)}")
        ename = e.get("name", "ensemble")
        if not isinstance(ename, str) or not _NAME.match(ename) or ename in names:
            raise OptionError(f"{path}: [ensemble] name must be a new name of letters, digits and _.+- , got {ename!r}")
        weights = e.get("weights")
        if weights is not None and (not isinstance(weights, list) or len(weights) != len(chosen)):
            raise OptionError(f"{path}: [ensemble] weights must give one number per chosen run, got {weights!r}")
        ensemble = EnsembleSpec(tuple(chosen), ename, tuple(weights) if weights is not None else None)
    spec = StudySpec(path, name, dataset, tuple(runs), base, overrides, cross_paths,
                     str(d.get("description", "")), ensemble)
    for run in spec.runs:  # every run's config is checked now, before anything trains
        spec.run_config(run, run.seeds[0], out="study-check")
    return spec
