"""Evaluate a model (checkpoint or ONNX) on a dataset split, across label sets by class name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferkit.core.errors import InputError, OptionError
from ferkit.core.labels import label_mapping
from ferkit.core.options import check_bool, check_choice, check_int
from ferkit.core.preprocess import TTA_MODES
from ferkit.data import SPLITS, FaceDataset, load_dataset
from ferkit.evaluate.metrics import classification_metrics
from ferkit.evaluate.plots import plot_confusion
from ferkit.infer.classifier import EmotionClassifier

#: what ``split`` may be: an official split or the whole dataset
EVAL_SPLITS: tuple[str, ...] = SPLITS + ("all",)


def evaluate(
    model: str | Path | EmotionClassifier,
    data: str | Path | FaceDataset,
    split: str = "test",
    tta: str = "none",
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """Metrics of ``model`` (a model file, a bundled model's name, or an :class:`EmotionClassifier` or
    any object with its ``classes``, ``image_size`` and ``predict_proba``) on ``split`` of ``data``
    (a dataset path or a :class:`FaceDataset`).

    Dataset classes are mapped to the model's by name; images of classes the model does not know
    (e.g. CK+ contempt for a FER2013 model) are left out of the metrics and their predicted
    distribution is reported under ``unmapped``. An ensemble (``ferkit ensemble``) also reports each
    member's metrics under ``members``. ``progress`` shows progress bars (on stderr)."""
    check_choice("evaluate", "split", split, EVAL_SPLITS)
    check_choice("evaluate", "tta", tta, TTA_MODES)
    check_int("evaluate", "batch_size", batch_size, lo=1)
    check_bool("evaluate", "progress", progress)
    is_classifier = isinstance(model, EmotionClassifier) or hasattr(model, "predict_proba")
    clf = model if is_classifier else EmotionClassifier(model)
    ds = data if isinstance(data, FaceDataset) else load_dataset(data, size=clf.image_size, progress=progress)
    ds = ds.select_split(split)
    if len(ds) == 0:
        raise InputError(f"{ds.name}: no images to evaluate")
    if ds.image_size != (clf.image_size, clf.image_size):
        raise InputError(f"{ds.name}: images are {ds.image_size[0]}x{ds.image_size[1]}, the model expects "
                         f"{clf.image_size}x{clf.image_size} faces")
    probs = predict_in_batches(clf, ds.images, tta, batch_size, progress)
    mapping = label_mapping(ds.classes, clf.classes)
    y = mapping[ds.labels]
    known = y >= 0
    if not known.any():
        raise InputError(f"{ds.name}: none of its classes ({', '.join(ds.classes)}) is among the model's "
                         f"({', '.join(clf.classes)})")
    report = classification_metrics(y[known], probs[known], clf.classes)
    report.update(
        {
            "model": str(getattr(clf, "path", model)),
            "dataset": ds.name,
            "split": split,
            "tta": tta,
        }
    )
    members = getattr(clf, "members", ())
    if members:  # every member from one more pass of the ensemble's graph
        member_probs = clf.predict_member_proba(ds.images, tta=tta, batch_size=batch_size)
        report["members"] = {}
        for i, name in enumerate(members):
            m = classification_metrics(y[known], member_probs[known, i], clf.classes)
            report["members"][name] = {k: m[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")}
    unmapped = {}
    for cls in sorted({ds.classes[i] for i in np.unique(ds.labels[~known])}):
        rows = probs[ds.labels == ds.classes.index(cls)]
        counts = np.bincount(rows.argmax(axis=1), minlength=len(clf.classes))
        unmapped[cls] = {"n": len(rows), "predicted": {c: int(k) for c, k in zip(clf.classes, counts)}}
    if unmapped:
        report["unmapped"] = unmapped
    return report


def predict_in_batches(clf, images: np.ndarray, tta: str, batch_size: int, progress: bool) -> np.ndarray:
    """``clf.predict_proba`` over ``images``, batch by batch under a progress bar when ``progress``."""
    kw = {"tta": tta, "batch_size": batch_size}
    if not progress or len(images) <= batch_size:
        return clf.predict_proba(images, **kw)
    out = []
    with tqdm(total=len(images), desc="evaluating", unit="img") as bar:
        for start in range(0, len(images), batch_size):
            out.append(clf.predict_proba(images[start : start + batch_size], **kw))
            bar.update(len(out[-1]))
    return np.concatenate(out)


def report_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """The files a report ``out`` (``NAME.json``) makes: ``NAME.json``, ``NAME.md`` (the Markdown
    summary) and ``NAME_confusion.png`` (the confusion matrix picture)."""
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise OptionError(f"the report path must end in .json (its Markdown summary and confusion PNG are written "
                          f"beside it), got {str(out)!r}")
    stem = out.with_suffix("")
    return out, Path(f"{stem}.md"), Path(f"{stem}_confusion.png")


def markdown_summary(r: dict) -> str:
    lines = [
        f"# Evaluation: {Path(r['model']).name} on {r['dataset']} ({r['split']}, TTA {r['tta']})",
        "",
        f"n = {r['n']}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy", "top3_accuracy", "ece"):
        if key in r:
            lines.append(f"| {key} | {r[key]:.4f} |")
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c, m in r["per_class"].items():
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    if r.get("members"):
        lines += ["", "| ensemble member | accuracy | balanced accuracy | macro-F1 |", "|---|---|---|---|"]
        for name, m in r["members"].items():
            lines.append(f"| {name} | {m['accuracy']:.4f} | {m['balanced_accuracy']:.4f} | {m['macro_f1']:.4f} |")
    for cls, u in r.get("unmapped", {}).items():
        pred = ", ".join(f"{c} {k}" for c, k in u["predicted"].items() if k)
        lines += ["", f"Not in the model's classes: {cls} (n = {u['n']}), predicted as: {pred}"]
    return "\n".join(lines) + "\n"


def write_report(report: dict, json_path: str | Path | None = None, markdown_path: str | Path | None = None,
                 confusion_png: str | Path | None = None) -> None:
    """Write the report as JSON, its Markdown summary and its confusion matrix picture (each when its
    path is given; folders are made; existing files are replaced: callers check first)."""
    for path in (json_path, markdown_path, confusion_png):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2))
    if markdown_path:
        Path(markdown_path).write_text(markdown_summary(report))
    if confusion_png:
        title = f"{report['dataset']} {report['split']}: accuracy {report['accuracy']:.4f}"
        plot_confusion(report["confusion_matrix"], report["classes"], confusion_png, title)
