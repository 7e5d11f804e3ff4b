"""ferkit score-videos: video-level accuracy against one gold label per video."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ferkit.cli.common import add_common_output_arguments, check_output_files

#: the rules of ferkit.video.scoring.RULES (not imported here: that module loads scikit-learn)
RULE_CHOICES = ("vote", "mean", "main_vote", "main_mean", "track_vote")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "score-videos", help="score video-level predictions against gold labels",
        description="Read the NAME.summary.json files that `ferkit analyze VIDEOS --out-dir RESULTS_DIR` wrote, "
        "predict one label per video by each rule (vote: frame vote; mean: mean probability; main_*: the face "
        "seen most; track_vote: vote of the tracks) and report accuracy, balanced accuracy, macro-F1 and the "
        "confusion matrix per rule. Labels are 7 emotions or negative/neutral/positive. A label row is matched "
        "to the summary whose recorded video path ends with the row's video (a file name, or a path such as "
        "a/clip.mp4 to tell videos with one file name apart); a name matching several videos is refused, and "
        "labels without results and results without labels are listed.",
    )
    p.add_argument("results", help="folder with *.summary.json files (searched recursively)")
    p.add_argument("--labels", required=True, help="CSV with the columns video,label")
    p.add_argument("--rules", nargs="+", default=list(RULE_CHOICES), choices=RULE_CHOICES)
    p.add_argument("--out", metavar="PATH", help="also write the full report (with confusion matrices) to this "
                   "JSON file")
    add_common_output_arguments(p, json_help="print the full report as JSON instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.video.scoring import format_report, score_videos, summary_paths

    out = Path(args.out) if args.out else None
    if out:
        # never over an input: the labels CSV or any summary the scoring reads
        check_output_files([out], [args.labels, *summary_paths(args.results)], args.overwrite)
    report = score_videos(args.results, args.labels, tuple(args.rules))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}", file=sys.stderr)
    return 0
