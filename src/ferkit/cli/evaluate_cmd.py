"""ferkit evaluate: metrics, JSON and Markdown reports and a confusion matrix picture."""

from __future__ import annotations

import argparse
import json
import sys

from ferkit.cli.common import add_common_output_arguments, check_output_files
from ferkit.cli.data_cmd import warnings_as_notes
from ferkit.core.preprocess import TTA_MODES

SPLIT_CHOICES = ("train", "val", "test", "all")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint or ONNX model on a dataset split",
        description="Evaluate MODEL (a .pt checkpoint, an .onnx file or a bundled model's name such as default) "
        "on a dataset split. For FER2013, val is PublicTest and test is PrivateTest. Classes are matched by name "
        "across datasets. Prints a Markdown summary (or, with --json, the full report as JSON).",
    )
    p.add_argument("model", help="checkpoint (.pt), ONNX model (.onnx) or bundled model name (default)")
    p.add_argument("--data", required=True, help="dataset path (npz, FER2013 csv, or folder of class folders)")
    p.add_argument("--split", default="test", choices=SPLIT_CHOICES)
    p.add_argument("--tta", default="none", choices=TTA_MODES, help="test-time augmentation")
    p.add_argument("--out", metavar="REPORT.json",
                   help="write the full report as JSON, with REPORT.md (Markdown summary) and REPORT_confusion.png "
                   "(confusion matrix) beside it")
    add_common_output_arguments(p, json_help="print the full report as JSON instead of the Markdown summary")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.evaluate.evaluator import evaluate, markdown_summary, report_paths, write_report

    outputs = list(report_paths(args.out)) if args.out else []
    check_output_files(outputs, [args.model, args.data], args.overwrite)
    with warnings_as_notes():
        report = evaluate(args.model, args.data, split=args.split, tta=args.tta, batch_size=args.batch_size,
                          progress=not args.no_progress)
    if outputs:
        write_report(report, *outputs)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(markdown_summary(report), end="")
    for path in outputs:
        print(f"wrote {path}", file=sys.stderr)
    return 0
