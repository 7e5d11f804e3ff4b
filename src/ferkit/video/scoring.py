"""Scoring video-level predictions against one gold label per video (7 emotions or 3-way
sentiment), under several rules for turning a video's frames into one label."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ferkit.evaluate.metrics import classification_metrics
from ferkit.core.labels import EMOTIONS, SENTIMENTS, canonical_name

#: rule -> (where in the summary, which distribution); "track_vote" is built from the tracks
RULES = ("vote", "mean", "main_vote", "main_mean", "track_vote")


def read_labels(path: str | Path) -> dict[str, str]:
    """``video,label`` CSV (header required) -> {video name: label}."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"video", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs a header with the columns video,label")
        labels = {}
        for line, row in enumerate(reader, start=2):
            if not row["video"] or not row["label"]:
                raise ValueError(f"{path}:{line}: empty video or label")
            labels[row["video"].strip()] = row["label"].strip().lower()
    if not labels:
        raise ValueError(f"{path}: no labels")
    return labels


def label_space(labels: dict[str, str]) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """('sentiment', SENTIMENTS) when every label is a sentiment, else ('emotion', EMOTIONS) with
    the labels in canonical spelling."""
    values = set(labels.values())
    if values <= set(SENTIMENTS):
        return "sentiment", SENTIMENTS, labels
    canon = {}
    for video, label in labels.items():
        name = canonical_name(label)
        if name not in EMOTIONS:
            raise ValueError(f"label {label!r} of {video} is not one of {EMOTIONS} (or a sentiment)")
        canon[video] = name
    return "emotion", EMOTIONS, canon


def rule_distribution(summary: dict[str, Any], rule: str, space: str) -> np.ndarray | None:
    """A video's class distribution under ``rule`` (None when it has no face)."""
    classes = SENTIMENTS if space == "sentiment" else EMOTIONS
    if not summary.get("overall"):
        return None
    kind = "vote" if rule.endswith("vote") else "mean"
    key = f"{kind}_{'sentiment' if space == 'sentiment' else 'emotions'}"
    if rule in ("vote", "mean"):
        source = summary["overall"][key]
        return np.array([source[c] for c in classes])
    if rule in ("main_vote", "main_mean"):
        source = summary["per_track"][str(summary["main_track"])][key]
        return np.array([source[c] for c in classes])
    if rule == "track_vote":
        dominant = "sentiment_by_mean" if space == "sentiment" else "dominant_by_mean"
        votes = np.zeros(len(classes))
        for track in summary["per_track"].values():
            votes[classes.index(track[dominant])] += 1
        return votes / votes.sum()
    raise ValueError(f"unknown rule {rule!r}; use one of {RULES}")


def find_summaries(results: str | Path) -> dict[str, dict[str, Any]]:
    """{video file name: summary} from the ``*.summary.json`` files under ``results``."""
    out = {}
    for path in sorted(Path(results).rglob("*.summary.json")):
        summary = json.loads(path.read_text())
        out[Path(summary["video"]).name] = summary
    return out


def score_videos(results: str | Path, labels_csv: str | Path, rules: tuple[str, ...] = RULES) -> dict[str, Any]:
    """Per rule: accuracy, balanced accuracy, macro-F1 and confusion matrix over the labelled
    videos that have a summary (videos with no face have no prediction: they are counted in
    ``no_prediction`` and in ``accuracy_all``, which scores them as wrong)."""
    labels = read_labels(labels_csv)
    space, classes, labels = label_space(labels)
    summaries = find_summaries(results)
    by_stem = {Path(name).stem: s for name, s in summaries.items()}
    matched, missing = {}, []
    for video, label in labels.items():
        summary = summaries.get(Path(video).name) or by_stem.get(Path(video).stem)
        if summary is None:
            missing.append(video)
        else:
            matched[video] = (label, summary)
    if not matched:
        raise ValueError(f"no labelled video has a summary under {results} (looked for *.summary.json)")
    report: dict[str, Any] = {"space": space, "classes": list(classes), "videos": len(labels),
                              "scored": len(matched), "missing": missing, "rules": {}}
    for rule in rules:
        y_true, probs, none = [], [], 0
        for label, summary in matched.values():
            dist = rule_distribution(summary, rule, space)
            if dist is None:
                none += 1
                continue
            y_true.append(classes.index(label))
            probs.append(dist)
        if not probs:
            report["rules"][rule] = {"no_prediction": none}
            continue
        with warnings.catch_warnings():  # one class in a small collection is fine to score
            warnings.simplefilter("ignore", UserWarning)
            m = classification_metrics(np.array(y_true), np.array(probs), classes)
        correct = m["accuracy"] * m["n"]
        report["rules"][rule] = {
            "n": m["n"], "no_prediction": none, "accuracy": m["accuracy"], "accuracy_all": correct / len(matched),
            "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"],
            "confusion_matrix": m["confusion_matrix"],
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['scored']} of {report['videos']} labelled videos scored ({report['space']} labels)"]
    if report["missing"]:
        lines.append(f"no results for: {', '.join(report['missing'][:10])}" + (" ..." if len(report["missing"]) > 10 else ""))
    lines += ["", "| rule | n | accuracy | balanced acc. | macro-F1 | no face |", "|---|---|---|---|---|---|"]
    for rule, r in report["rules"].items():
        if "accuracy" not in r:
            lines.append(f"| {rule} | 0 | - | - | - | {r['no_prediction']} |")
            continue
        lines.append(f"| {rule} | {r['n']} | {r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} | {r['macro_f1']:.3f} "
                     f"| {r['no_prediction']} |")
    return "\n".join(lines)
