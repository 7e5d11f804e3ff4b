"""Run a study: train every run with every seed in turn, evaluate each, optionally build an ensemble,
then write the report. Running it again continues: a finished run (``result.json``) is not retrained
or re-evaluated, an interrupted one resumes from its ``last.pt``, and runs added to the file are added.

Protocol (FER2013): Training trains, the validation split (PublicTest) picks each run's checkpoint,
the test split (PrivateTest) is evaluated once per run, with and without flip TTA, and reported only.
Cross-dataset sets are evaluated whole, across label sets by class name."""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.core.errors import OptionError, OutputError, ResumeError
from ferkit.core.outputs import check_folder_writable
from ferkit.data import load_dataset
from ferkit.evaluate.evaluator import evaluate, write_report
from ferkit.export.ensemble import make_ensemble
from ferkit.export.onnx import export_onnx
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models import count_macs, count_parameters
from ferkit.models.checkpoint import load_checkpoint
from ferkit.study.report import write_study_report
from ferkit.study.spec import RunSpec, StudySpec
from ferkit.train.config import TrainConfig
from ferkit.train.trainer import train

log = logging.getLogger("ferkit.study")

PLAN_NAME = "study.json"
RESULT_NAME = "result.json"
TRAINED_NAME = "trained.json"
#: config keys that may differ when a study is continued (paths that move with the folder)
UNCOMPARED = ("data", "out", "extra_train", "init_from")


@dataclass(frozen=True)
class Unit:
    """One training run of the study: a run of the file with one seed."""
    run: RunSpec
    seed: int
    cfg: TrainConfig

    @property
    def key(self) -> str:
        return f"{self.run.name}-s{self.seed}"

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)


def plan_units(spec: StudySpec, out: Path, epochs: int | None, limit: int | None,
               only: list[str] | None = None) -> list[Unit]:
    names = spec.run_names()
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise OptionError(f"--runs names runs the study does not have: {', '.join(unknown)}; it has "
                              f"{', '.join(names)}")
    units = []
    for run in spec.runs:
        if only and run.name not in only:
            continue
        for seed in run.seeds:
            cfg = spec.run_config(run, seed, out / "runs" / f"{run.name}-s{seed}", epochs, limit)
            units.append(Unit(run, seed, cfg))
    return units


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in UNCOMPARED}, sort_keys=True))


def check_plan(out: Path, spec: StudySpec, units: list[Unit], epochs: int | None, limit: int | None) -> None:
    """Record the study's runs in ``study.json``; refuse to continue a study whose started runs would now
    be trained differently (another file, other overrides, --epochs or --limit)."""
    path = out / PLAN_NAME
    plan = json.loads(path.read_text()) if path.exists() else {"study": spec.name, "runs": {}}
    # a setting recorded by an older ferkit that lacked it counts as its default
    defaults = _comparable(TrainConfig().to_dict())
    if plan.get("study") != spec.name:
        raise OutputError(f"{out} holds study {plan.get('study')!r}, not {spec.name!r}: use another --out")
    for u in units:
        before = plan["runs"].get(u.key)
        now = _comparable(u.cfg.to_dict())
        changed = sorted(k for k in set(before or {}) | set(now)
                         if (before or {}).get(k, defaults.get(k)) != now.get(k, defaults.get(k)))
        if before is not None and (u.out / "config.json").exists() and changed:
            raise ResumeError(
                f"{out}: run {u.key} was started with other settings ({', '.join(changed)} differ, e.g. "
                f"{changed[0]} = {before.get(changed[0])!r}, now {now.get(changed[0])!r}): continue it with the "
                "same study file, --epochs and --limit, or use another --out")
        plan["runs"][u.key] = now
    plan.update({"file": str(spec.path), "data": spec.data, "epochs": epochs, "limit": limit})
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=2))


def training_minutes(run_dir: Path) -> float:
    """Minutes spent in training epochs (validation included), summed over interrupted sessions."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return 0.0
    with path.open(newline="") as fh:
        return sum(float(row["seconds"]) for row in csv.DictReader(fh)) / 60.0


def measure_speed(model_path: Path, seconds: float = 2.0, batch: int = 64) -> float:
    """Faces/s of the exported model in ONNX Runtime, preprocessing included, batches of ``batch``."""
    clf = EmotionClassifier(model_path)
    faces = np.random.default_rng(0).integers(0, 256, (batch, clf.image_size, clf.image_size), dtype=np.uint8)
    clf.predict_proba(faces, batch_size=batch)  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        clf.predict_proba(faces, batch_size=batch)
        n += batch
    return n / (time.perf_counter() - start)


def _scores(report: dict) -> dict[str, Any]:
    keep = ("n", "accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "top3_accuracy")
    out = {k: report[k] for k in keep if k in report}
    out["per_class_f1"] = {c: m["f1"] for c, m in report["per_class"].items()}
    if "members" in report:
        out["members"] = report["members"]
    return out


def evaluate_model(model: Path, spec: StudySpec, reports: Path, progress: bool,
                   cache: dict[str, Any]) -> dict[str, Any]:
    """Validation (single view), test (single view and flip) and every cross-dataset set (both), each
    report written to ``reports/`` (JSON, Markdown, confusion matrix)."""
    clf = EmotionClassifier(model)
    data = cache.setdefault(("data", clf.image_size), load_dataset(spec.data, size=clf.image_size))
    result: dict[str, Any] = {}
    for key, split, tta in (("val", "val", "none"), ("test", "test", "none"), ("test_flip", "test", "flip")):
        report = evaluate(clf, data, split=split, tta=tta, progress=progress)
        write_report(report, reports / f"{key}.json", reports / f"{key}.md", reports / f"{key}_confusion.png")
        result[key] = _scores(report)
    result["cross"] = {}
    for path in spec.cross:
        ds = cache.setdefault(("cross", path, clf.image_size), load_dataset(path, size=clf.image_size))
        name = Path(path).stem
        result["cross"][name] = {}
        for tta in ("none", "flip"):
            report = evaluate(clf, ds, split="all", tta=tta, progress=progress)
            stem = reports / f"cross_{name}_{tta}"
            write_report(report, stem.with_suffix(".json"), stem.with_suffix(".md"), Path(f"{stem}_confusion.png"))
            result["cross"][name][tta] = _scores(report)
    return result


def train_unit(unit: Unit, progress: bool | None) -> dict[str, Any] | None:
    """Train (or resume) one run; its training record, or None when interrupted."""
    trained = unit.out / TRAINED_NAME
    if trained.exists():
        return json.loads(trained.read_text())
    last = unit.out / "last.pt"
    result = train(unit.cfg, resume=last if last.exists() else None, progress=progress,
                   # a run stopped before its first checkpoint has nothing to resume: it starts over
                   overwrite=not last.exists())
    if result.interrupted:
        return None
    record = {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
              "best_val_acc": result.best_val_acc, "stopped_early": result.stopped_early,
              "train_minutes": round(training_minutes(unit.out), 2)}
    trained.write_text(json.dumps(record, indent=2))
    return record


def finish_unit(unit: Unit, record: dict[str, Any], spec: StudySpec, progress: bool,
                cache: dict[str, Any]) -> dict[str, Any]:
    """Export the chosen checkpoint, measure and evaluate it; written to ``result.json``."""
    onnx_path = unit.out / "model.onnx"
    export_onnx(unit.out / "best.pt", onnx_path, overwrite=True)
    model, state = load_checkpoint(unit.out / "best.pt")
    size = state["preprocess"]["input_size"]
    result = {
        "run": unit.run.name, "seed": unit.seed, "model": unit.cfg.model, "model_cfg": unit.cfg.model_cfg,
        "description": unit.run.description, "params": count_parameters(model), "macs": count_macs(model, size),
        "input_size": size, **record,
        "faces_per_s": round(measure_speed(onnx_path), 1),
    }
    result.update(evaluate_model(onnx_path, spec, unit.out / "reports", progress, cache))
    (unit.out / RESULT_NAME).write_text(json.dumps(result, indent=2))
    return result


def build_ensemble(spec: StudySpec, units: list[Unit], results: dict[str, dict], out: Path, progress: bool,
                   cache: dict[str, Any]) -> dict[str, Any] | None:
    """The study's ensemble of the chosen runs (every seed of each), once all of them are finished."""
    e = spec.ensemble
    chosen = [u for u in units if u.run.name in e.runs]
    if any(u.key not in results for u in chosen):
        return None
    edir = out / "runs" / e.name
    result_path = edir / RESULT_NAME
    keys = [u.key for u in chosen]
    if result_path.exists():
        saved = json.loads(result_path.read_text())
        if saved.get("members") == keys:
            return saved
    weights = None
    if e.weights is not None:  # a run's weight is shared by its seeds
        weights = [e.weights[e.runs.index(u.run.name)] / len(u.run.seeds) for u in chosen]
    onnx_path = make_ensemble([u.out / "model.onnx" for u in chosen], edir / "model.onnx", weights=weights,
                              names=keys, overwrite=True)
    result = {
        "run": e.name, "seed": None, "model": "ensemble", "members": keys,
        "description": f"ensemble of {', '.join(keys)}",
        "params": sum(results[k]["params"] for k in keys), "macs": sum(results[k]["macs"] for k in keys),
        "input_size": None, "epochs_run": None, "best_epoch": None,
        "train_minutes": round(sum(results[k]["train_minutes"] for k in keys), 2),
        "faces_per_s": round(measure_speed(onnx_path), 1),
    }
    result.update(evaluate_model(onnx_path, spec, edir / "reports", progress, cache))
    result_path.write_text(json.dumps(result, indent=2))
    return result


def run_study(spec: StudySpec, out: str | Path, epochs: int | None = None, limit: int | None = None,
              only: list[str] | None = None, progress: bool | None = None, command: str = "") -> dict[str, Any]:
    """Train, evaluate and report every run of ``spec`` into ``out`` (see the module docstring).
    Returns ``{"results": [...], "interrupted": bool, "report": [paths]}``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file; --out must be a folder")
    check_folder_writable(out)
    units = plan_units(spec, out, epochs, limit, only)
    check_plan(out, spec, units, epochs, limit)
    every_unit = plan_units(spec, out, epochs, limit)
    results: dict[str, dict] = {}
    cache: dict[str, Any] = {}
    interrupted = False
    show = bool(progress)
    for i, unit in enumerate(units, start=1):
        result_path = unit.out / RESULT_NAME
        if result_path.exists():
            log.info("run %d/%d %s: done (%s)", i, len(units), unit.key, result_path)
            results[unit.key] = json.loads(result_path.read_text())
            continue
        log.info("run %d/%d %s: training %s", i, len(units), unit.key, unit.cfg.model)
        record = train_unit(unit, progress)
        if record is None:
            log.warning("study interrupted during %s: run the same command again to continue", unit.key)
            interrupted = True
            break
        log.info("run %d/%d %s: evaluating", i, len(units), unit.key)
        results[unit.key] = finish_unit(unit, record, spec, show, cache)
    for unit in every_unit:  # the report covers every finished run of the study, not only --runs
        if unit.key not in results and (unit.out / RESULT_NAME).exists():
            results[unit.key] = json.loads((unit.out / RESULT_NAME).read_text())
    rows = [results[u.key] for u in every_unit if u.key in results]
    if spec.ensemble is not None and not interrupted:
        ens = build_ensemble(spec, every_unit, results, out, show, cache)
        if ens is not None:
            rows.append(ens)
    paths = write_study_report(spec, out, rows, units_total=len(every_unit), epochs=epochs, limit=limit,
                               command=command)
    return {"results": rows, "interrupted": interrupted, "report": [str(p) for p in paths]}
