"""ferkit report: one row per video of a folder of results."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="a collection report: one row per video of a folder of results",
        description="Read every video result below RESULTS_DIR (ferkit analyze summaries, NAME.summary.json, and "
        "ferkit harvest datasets) and write collection.csv and collection.md (per video: dominant emotion, its "
        "share, positive/neutral/negative shares, faces, tracks, the mean of each emotion) and "
        "collection_emotions.png (the emotion mix per video).")
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default: RESULTS_DIR)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ferkit.cli.common import check_output_files
    from ferkit.report.collection import report_paths, write_collection_report

    outputs = report_paths(args.out or args.results)
    check_output_files(list(outputs), [args.results], args.overwrite)
    summary = write_collection_report(args.results, args.out)
    if args.json:
        print(json.dumps(summary["rows"], indent=2))
    else:
        for row in summary["rows"]:
            print(f"{row['video']}: {row['dominant']} ({row['dominant_share']:.2f}), positive {row['share_positive']:.2f} "
                  f"neutral {row['share_neutral']:.2f} negative {row['share_negative']:.2f}, {row['faces']} faces, "
                  f"{row['tracks']} tracks")
        print(f"wrote {summary['csv']}, {summary['markdown']} and {summary['plot']}")
    return 0
