"""Evaluate a model (checkpoint or ONNX) on a dataset split, across label sets by class name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferkit.data import FaceDataset, load_dataset
from ferkit.evaluate.metrics import classification_metrics
from ferkit.evaluate.plots import plot_confusion
from ferkit.infer.classifier import EmotionClassifier
from ferkit.core.labels import label_mapping


def evaluate(
    model: str | Path | EmotionClassifier,
    data: str | Path | FaceDataset,
    split: str = "test",
    tta: str = "none",
    batch_size: int = 256,
) -> dict:
    """Metrics of ``model`` on ``split`` of ``data``.

    Dataset classes are mapped to the model's by name; images of classes the model does not know
    (e.g. CK+ contempt for a FER2013 model) are left out of the metrics and their predicted
    distribution is reported under ``unmapped``."""
    clf = model if isinstance(model, EmotionClassifier) else EmotionClassifier(model)
    ds = data if isinstance(data, FaceDataset) else load_dataset(data, size=clf.image_size)
    ds = ds.select_split(split)
    if ds.image_size != (clf.image_size, clf.image_size):
        raise ValueError(f"dataset images are {ds.image_size}, the model expects {clf.image_size}px faces")
    probs = clf.predict_proba(ds.images, tta=tta, batch_size=batch_size)
    mapping = label_mapping(ds.classes, clf.classes)
    y = mapping[ds.labels]
    known = y >= 0
    report = classification_metrics(y[known], probs[known], clf.classes)
    report.update(
        {
            "model": str(getattr(clf, "path", model)),
            "dataset": ds.name,
            "split": split,
            "tta": tta,
        }
    )
    unmapped = {}
    for cls in sorted({ds.classes[i] for i in np.unique(ds.labels[~known])}):
        rows = probs[ds.labels == ds.classes.index(cls)]
        counts = np.bincount(rows.argmax(axis=1), minlength=len(clf.classes))
        unmapped[cls] = {"n": len(rows), "predicted": {c: int(k) for c, k in zip(clf.classes, counts)}}
    if unmapped:
        report["unmapped"] = unmapped
    return report


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
    for cls, u in r.get("unmapped", {}).items():
        pred = ", ".join(f"{c} {k}" for c, k in u["predicted"].items() if k)
        lines += ["", f"Not in the model's classes: {cls} (n = {u['n']}), predicted as: {pred}"]
    return "\n".join(lines) + "\n"


def write_report(report: dict, json_path: str | Path | None = None, markdown_path: str | Path | None = None,
                 confusion_png: str | Path | None = None) -> None:
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2))
    if markdown_path:
        Path(markdown_path).write_text(markdown_summary(report))
    if confusion_png:
        title = f"{report['dataset']} {report['split']}: accuracy {report['accuracy']:.4f}"
        plot_confusion(report["confusion_matrix"], report["classes"], confusion_png, title)
