"""Scoring video-level predictions against one gold label per video (7 emotions or 3-way
sentiment), under several rules for turning a video's frames into one label.

Labels are matched to results by the video path each summary records (its ``video`` field): a
label row's ``video`` matches a summary when the shorter of the two paths is the tail of the other
(``clip.mp4`` matches ``/data/a/clip.mp4``; ``a/clip.mp4`` matches it too, ``b/clip.mp4`` does not);
a label without a file extension also matches on the file name's stem (``clip``). A label matching
more than one result, or a result matched by more than one label, is refused: give paths in the
labels CSV to tell videos with one file name apart."""

from __future__ import annotations

import csv
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.labels import ALIASES, EMOTIONS, SENTIMENTS, canonical_name
from ferkit.core.options import check_choice
from ferkit.core.paths import require_file
from ferkit.evaluate.metrics import classification_metrics

log = logging.getLogger("ferkit.video")

#: rule -> (where in the summary, which distribution); "track_vote" is built from the tracks
RULES = ("vote", "mean", "main_vote", "main_mean", "track_vote")
#: how many names an error message lists before "and N more"
SHOW = 5


def _some(items: list[str], n: int = SHOW) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


@dataclass(frozen=True)
class LabelRow:
    """One row of the labels CSV."""

    line: int
    video: str
    label: str


@dataclass(frozen=True)
class SummaryFile:
    """One ``*.summary.json`` file: where it is, the video it describes, and its content."""

    path: Path
    video: str
    summary: dict[str, Any]


def read_label_rows(path: str | Path) -> list[LabelRow]:
    """The rows of a ``video,label`` CSV (header required, any case; a UTF-8 byte-order mark is fine).
    A row with an empty video or label, and one video given two different labels, are refused with
    their line numbers; a row repeated with the same label counts once."""
    path = require_file(path, "a CSV file with the columns video,label")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
            if not {"video", "label"} <= set(fields):
                raise InputError(f"{path}: needs a header with the columns video,label; got "
                                 f"{','.join(reader.fieldnames or []) or 'nothing'}")
            rows: list[LabelRow] = []
            seen: dict[str, LabelRow] = {}
            for row in reader:
                line = reader.line_num
                video = (row.get(fields["video"]) or "").strip()
                label = (row.get(fields["label"]) or "").strip().lower()
                if not video and not label and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue  # a blank line
                if not video or not label:
                    raise InputError(f"{path}:{line}: empty video or label")
                if video in seen:
                    if seen[video].label != label:
                        raise InputError(f"{path}:{line}: {video} is labelled {label!r} here and "
                                         f"{seen[video].label!r} on line {seen[video].line}")
                    continue
                seen[video] = LabelRow(line, video, label)
                rows.append(seen[video])
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from exc
    if not rows:
        raise InputError(f"{path}: no labels")
    return rows


def read_labels(path: str | Path) -> dict[str, str]:
    """``video,label`` CSV (header required) -> {video as written in the CSV: label}."""
    return {r.video: r.label for r in read_label_rows(path)}


def label_space(labels: dict[str, str]) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """('sentiment', SENTIMENTS) when every label is a sentiment, else ('emotion', EMOTIONS) with
    the labels in canonical spelling."""
    values = set(labels.values())
    if values <= set(SENTIMENTS):
        return "sentiment", SENTIMENTS, labels
    allowed = f"one of {', '.join(EMOTIONS)} (or every label one of {', '.join(SENTIMENTS)})"
    canon = {}
    for video, label in labels.items():
        if label.strip().lower() not in ALIASES or canonical_name(label) not in EMOTIONS:
            mixed = " (the labels mix emotions and sentiments)" if label in SENTIMENTS else ""
            raise InputError(f"label {label!r} of {video} is not {allowed}{mixed}")
        canon[video] = canonical_name(label)
    return "emotion", EMOTIONS, canon


def rule_distribution(summary: dict[str, Any], rule: str, space: str) -> np.ndarray | None:
    """A video's class distribution under ``rule`` (None when it has no face)."""
    check_choice("", "rule", rule, RULES)
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
    dominant = "sentiment_by_mean" if space == "sentiment" else "dominant_by_mean"
    votes = np.zeros(len(classes))
    for track in summary["per_track"].values():
        votes[classes.index(track[dominant])] += 1
    return votes / votes.sum()


def summary_incomplete(summary: dict[str, Any]) -> bool:
    """Whether a summary covers only part of its video (``"complete": false`` or ``"stopped_early": true``,
    as an interrupted or stopped ``ferkit analyze`` records)."""
    return summary.get("complete") is False or bool(summary.get("stopped_early"))


def summary_paths(results: str | Path) -> list[Path]:
    """The ``*.summary.json`` files :func:`find_summaries` reads (without reading them)."""
    results = Path(results)
    return sorted(results.rglob("*.summary.json")) if results.is_dir() else []


def find_summaries(results: str | Path) -> list[SummaryFile]:
    """The ``*.summary.json`` files under ``results`` (searched recursively), with the video each
    records; a file that is not a ferkit summary is refused with its path."""
    results = Path(results)
    if not results.exists():
        raise MissingInputError(f"{results}: no such folder")
    if not results.is_dir():
        raise InputError(f"{results}: not a folder (expected the folder `ferkit analyze --out-dir` wrote)")
    out = []
    for path in summary_paths(results):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a readable JSON file ({exc})") from exc
        if not isinstance(summary, dict) or not isinstance(summary.get("video"), str) or not summary["video"]:
            raise InputError(f"{path}: not a ferkit video summary (no \"video\" field)")
        out.append(SummaryFile(path, summary["video"], summary))
    return out


def _parts(video: str) -> tuple[str, ...]:
    """A video path's components for matching: separators unified, ``.``/``..`` resolved, the root
    and leading ``..`` dropped."""
    parts = PurePosixPath(os.path.normpath(video.replace("\\", "/"))).parts
    return tuple(p for p in parts if p not in ("/", "..", "."))


def _tail_match(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return n > 0 and a[-n:] == b[-n:]


def _matches(label_video: str, s: SummaryFile) -> bool:
    want, have = _parts(label_video), _parts(s.video)
    if _tail_match(want, have):
        return True
    if want and not PurePosixPath(want[-1]).suffix and have:  # "clip" for clip.mp4
        return _tail_match(want, have[:-1] + (PurePosixPath(have[-1]).stem,))
    return False


def match_labels(rows: list[LabelRow], summaries: list[SummaryFile], labels_csv: str | Path = "labels"
                 ) -> tuple[dict[str, SummaryFile], list[LabelRow], list[SummaryFile]]:
    """({label video: its summary}, label rows without a summary, summaries without a label).

    Raises :class:`InputError` naming them when a label matches several summaries (two videos with
    one file name, or one video analysed twice) or a summary is matched by several labels."""
    candidates = {r.video: [s for s in summaries if _matches(r.video, s)] for r in rows}
    ambiguous = [r for r in rows if len(candidates[r.video]) > 1]
    if ambiguous:
        shown = "; ".join(
            f"{r.video!r} (line {r.line}) matches {', '.join(s.video for s in candidates[r.video][:SHOW])}"
            for r in ambiguous[:SHOW]
        )
        more = f" (and {len(ambiguous) - SHOW} more)" if len(ambiguous) > SHOW else ""
        raise InputError(
            f"{labels_csv}: {len(ambiguous)} label(s) match more than one analysed video: {shown}{more}. Give each "
            "video's path in the labels CSV (e.g. a/clip.mp4), as far as needed to tell them apart; the path each "
            "result is for is the \"video\" field of its .summary.json"
        )
    by_summary: dict[Path, list[LabelRow]] = {}
    for r in rows:
        for s in candidates[r.video]:
            by_summary.setdefault(s.path, []).append(r)
    shared = {p: rs for p, rs in by_summary.items() if len(rs) > 1}
    if shared:
        shown = "; ".join(
            f"{' and '.join(f'{r.video!r} (line {r.line})' for r in rs)} match the same result {p}"
            for p, rs in list(shared.items())[:SHOW]
        )
        raise InputError(f"{labels_csv}: {len(shared)} analysed video(s) match more than one label row: {shown}")
    matched = {r.video: candidates[r.video][0] for r in rows if candidates[r.video]}
    missing = [r for r in rows if not candidates[r.video]]
    used = {s.path for s in matched.values()}
    unlabelled = [s for s in summaries if s.path not in used]
    return matched, missing, unlabelled


def score_videos(results: str | Path, labels_csv: str | Path, rules: tuple[str, ...] = RULES) -> dict[str, Any]:
    """Per rule: accuracy, balanced accuracy, macro-F1 and confusion matrix over the labelled
    videos that have a summary (videos with no face have no prediction: they are counted in
    ``no_prediction`` and in ``accuracy_all``, which scores them as wrong).

    The report lists the label rows with no summary (``missing``: the videos as written in the
    CSV) and the summaries with no label (``unlabelled``: the videos as their summaries record them);
    ``matches`` maps each scored label's video to the video of its summary; ``incomplete`` lists the
    scored videos whose summary covers only part of the video (``"complete": false`` or
    ``"stopped_early": true``): they are scored on the frames analysed, and a warning names them."""
    for rule in rules:
        check_choice("", "rule", rule, RULES)
    rows = read_label_rows(labels_csv)
    space, classes, labels = label_space({r.video: r.label for r in rows})
    summaries = find_summaries(results)
    if not summaries:
        raise InputError(f"{results}: no *.summary.json files (write them with `ferkit analyze VIDEOS --out-dir "
                         f"{results}`)")
    matched, missing, unlabelled = match_labels(rows, summaries, labels_csv)
    if not matched:
        raise InputError(
            f"no labelled video has a summary under {results}: the labels name {_some([r.video for r in rows])}; "
            f"the summaries are for {_some([s.video for s in summaries])}"
        )
    incomplete = [video for video, s in matched.items() if summary_incomplete(s.summary)]
    report: dict[str, Any] = {
        "space": space, "classes": list(classes), "videos": len(rows), "scored": len(matched),
        "missing": [r.video for r in missing], "unlabelled": [s.video for s in unlabelled],
        "incomplete": incomplete,
        "matches": {video: s.video for video, s in matched.items()}, "rules": {},
    }
    if incomplete:
        log.warning("%d scored video(s) were analysed only in part (interrupted or stopped early): %s",
                    len(incomplete), _some(incomplete))
    for rule in rules:
        y_true, probs, none = [], [], 0
        for video, s in matched.items():
            try:
                dist = rule_distribution(s.summary, rule, space)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                raise InputError(
                    f"{s.path}: not a complete ferkit video summary ({type(exc).__name__}: {exc})"
                ) from exc
            if dist is None:
                none += 1
                continue
            y_true.append(classes.index(labels[video]))
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
        lines.append(f"labelled but no results for {len(report['missing'])}: {_some(report['missing'], 10)}")
    if report.get("unlabelled"):
        lines.append(f"results but no label for {len(report['unlabelled'])}: {_some(report['unlabelled'], 10)}")
    if report.get("incomplete"):
        lines.append(f"note: {len(report['incomplete'])} scored video(s) were analysed only in part (interrupted or "
                     f"stopped early; scored on the frames analysed): {_some(report['incomplete'], 10)}")
    lines += ["", "| rule | n | accuracy | balanced acc. | macro-F1 | no face |", "|---|---|---|---|---|---|"]
    for rule, r in report["rules"].items():
        if "accuracy" not in r:
            lines.append(f"| {rule} | 0 | - | - | - | {r['no_prediction']} |")
            continue
        lines.append(f"| {rule} | {r['n']} | {r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} | {r['macro_f1']:.3f} "
                     f"| {r['no_prediction']} |")
    return "\n".join(lines)
