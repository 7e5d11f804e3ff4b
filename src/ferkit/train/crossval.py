"""Subject-grouped k-fold cross-validation for datasets without an official split (CK+, JAFFE, your
own folders): each fold's images are the test set once, no subject is in two folds, validation (for
the checkpoint) is a grouped split of the training folds, and the test fold is only evaluated."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from ferkit.core.errors import OptionError, OutputError, ResumeError
from ferkit.core.outputs import check_folder_writable
from ferkit.data import FaceDataset, load_dataset
from ferkit.data.splits import check_no_leak, group_kfold
from ferkit.evaluate.evaluator import evaluate, write_report
from ferkit.evaluate.plots import plot_confusion
from ferkit.train.config import TrainConfig
from ferkit.train.trainer import train

log = logging.getLogger("ferkit.train")

FOLD_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def fold_dir(out: Path, i: int) -> Path:
    return out / f"fold_{i:02d}"


def cross_validate(
    cfg: TrainConfig,
    folds: int = 10,
    dataset: FaceDataset | None = None,
    progress: bool | None = None,
    tta: str = "none",
) -> dict:
    """Train and test ``folds`` models; returns (and writes to ``cfg.out``) the per-fold and pooled results.

    A finished fold (its ``report.json`` exists) is skipped and an unfinished one resumes from its
    ``last.pt``, so running the same command again continues an interrupted cross-validation."""
    if Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise OutputError(f"{cfg.out} is a file; --out must be a folder")
    check_folder_writable(cfg.out)  # before the dataset loads
    ds = dataset if dataset is not None else load_dataset(cfg.data, cfg.format, size=cfg.image_size)
    if ds.has_official_split:
        raise OptionError(
            f"{ds.name} has an official train/val/test split; k-fold is for datasets without one "
            "(train with the official split instead)"
        )
    if ds.groups is None:
        log.warning("%s has no subject/video ids: folds are split by image, which can leak identities", ds.name)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = group_kfold(ds, k=folds, seed=cfg.seed)
    check_plan(out / "cv_plan.json", {
        "dataset": ds.name, "n": len(ds), "folds": folds, "seed": cfg.seed,
        "test_groups": [sorted(map(str, np.unique(ds.group_ids()[test]))) for _, test in splits],
    })
    results, interrupted = [], False
    for i, (pool, test) in enumerate(splits, start=1):
        check_no_leak(ds, pool, test)
        fdir = fold_dir(out, i)
        report_path = fdir / "report.json"
        if report_path.exists():
            log.info("fold %d/%d already done (%s)", i, folds, report_path)
            results.append(json.loads(report_path.read_text()))
            continue
        fold_cfg = dataclasses.replace(cfg, out=str(fdir))
        last = fdir / "last.pt"
        log.info("fold %d/%d: %d training+validation / %d test images", i, folds, len(pool), len(test))
        result = train(
            fold_cfg,
            resume=last if last.exists() else None,
            dataset=ds.subset(pool, name=f"{ds.name}:fold{i}-train"),
            progress=progress,
            # a fold stopped before its first checkpoint has nothing to resume: it starts over
            overwrite=not last.exists(),
        )
        if result.interrupted:
            interrupted = True
            break
        report = evaluate(result.best_checkpoint, ds.subset(test, name=f"{ds.name}:fold{i}-test"), split="all", tta=tta)
        report.update(fold=i, best_epoch=result.best_epoch, best_val_acc=result.best_val_acc,
                      test_groups=sorted(map(str, np.unique(ds.group_ids()[test]))))
        write_report(report, report_path, fdir / "report.md", fdir / "confusion.png")
        results.append(report)
    summary = summarize(results, folds, cfg, ds.name, tta)
    summary["interrupted"] = interrupted
    (out / "cv_summary.json").write_text(json.dumps(summary, indent=2))
    (out / "cv_summary.md").write_text(summary_markdown(summary))
    if results:
        plot_confusion(summary["pooled"]["confusion_matrix"], summary["classes"], out / "cv_confusion.png",
                       f"{ds.name}, {len(results)} folds pooled: accuracy {summary['pooled']['accuracy']:.4f}")
    return summary


def check_plan(path: Path, plan: dict) -> None:
    """Record the folds on the first run; refuse to continue with other data, K or seed, which would mix
    reports of different splits."""
    if path.exists():
        before = json.loads(path.read_text())
        if before != plan:
            changed = sorted(k for k in plan if before.get(k) != plan[k])
            raise ResumeError(f"{path.parent} holds a cross-validation with other {', '.join(changed)}; "
                             "use another --out")
        return
    path.write_text(json.dumps(plan))


def summarize(results: list[dict], folds: int, cfg: TrainConfig, dataset: str, tta: str) -> dict:
    """Mean and standard deviation over folds, and metrics of the pooled confusion matrix."""
    summary: dict = {"dataset": dataset, "model": cfg.model, "folds": folds, "folds_done": len(results), "tta": tta}
    if not results:
        return summary
    summary["classes"] = results[0]["classes"]
    for key in FOLD_METRICS:
        values = np.array([r[key] for r in results])
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    cm = np.sum([np.asarray(r["confusion_matrix"]) for r in results], axis=0)
    support = cm.sum(axis=1)
    recall = np.divide(np.diag(cm), support, out=np.zeros(len(cm)), where=support > 0)
    summary["pooled"] = {
        "n": int(cm.sum()),
        "accuracy": float(np.trace(cm) / cm.sum()),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "confusion_matrix": cm.tolist(),
    }
    summary["per_fold"] = [
        {"fold": r["fold"], "n": r["n"], "best_epoch": r["best_epoch"], **{k: r[k] for k in FOLD_METRICS}}
        for r in results
    ]
    return summary


def summary_markdown(s: dict) -> str:
    lines = [f"# {s['folds']}-fold subject-grouped cross-validation: {s['model']} on {s['dataset']}", ""]
    if not s.get("per_fold"):
        return "\n".join(lines + ["No fold finished yet."]) + "\n"
    lines += [
        f"Folds done: {s['folds_done']}/{s['folds']}; test-time augmentation: {s['tta']}.",
        "",
        "| metric | mean | std | pooled |",
        "|---|---|---|---|",
    ]
    for key in FOLD_METRICS:
        pooled = s["pooled"].get(key)
        lines.append(f"| {key} | {s[key]['mean']:.4f} | {s[key]['std']:.4f} | "
                     f"{'' if pooled is None else f'{pooled:.4f}'} |")
    lines += ["", "| fold | n | best epoch | accuracy | balanced accuracy | macro-F1 |", "|---|---|---|---|---|---|"]
    for f in s["per_fold"]:
        lines.append(f"| {f['fold']} | {f['n']} | {f['best_epoch']} | {f['accuracy']:.4f} | "
                     f"{f['balanced_accuracy']:.4f} | {f['macro_f1']:.4f} |")
    return "\n".join(lines) + "\n"
