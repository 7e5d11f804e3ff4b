"""ferkit score-videos: video-level accuracy against one gold label per video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ferkit.video.scoring import RULES, format_report, score_videos


def add_parser(sub) -> None:
    p = sub.add_parser(
        "score-videos", help="score video-level predictions against gold labels",
        description="Read the NAME.summary.json files that `ferkit analyze VIDEOS --out-dir RESULTS_DIR` wrote, "
        "predict one label per video by each rule (vote: frame vote; mean: mean probability; main_*: the face "
        "seen most; track_vote: vote of the tracks) and report accuracy, balanced accuracy, macro-F1 and the "
        "confusion matrix per rule. Labels are 7 emotions or negative/neutral/positive.",
    )
    p.add_argument("results", help="folder with *.summary.json files")
    p.add_argument("--labels", required=True, help="CSV with the columns video,label")
    p.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    p.add_argument("--json", help="also write the full report (with confusion matrices) to this JSON file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = score_videos(args.results, args.labels, tuple(args.rules))
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
