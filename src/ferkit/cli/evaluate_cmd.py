"""ferkit evaluate: metrics, JSON and Markdown reports and a confusion matrix picture."""

from __future__ import annotations

import argparse
from pathlib import Path

from ferkit.evaluate import evaluate, markdown_summary, write_report
from ferkit.infer import TTA_MODES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint or ONNX model on a dataset split",
        description="Evaluate MODEL (a .pt checkpoint or .onnx file) on a dataset split. For FER2013, "
        "val is PublicTest and test is PrivateTest. Classes are matched by name across datasets.",
    )
    p.add_argument("model", help="checkpoint (.pt) or ONNX model (.onnx)")
    p.add_argument("--data", required=True, help="dataset path")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--tta", default="none", choices=TTA_MODES, help="test-time augmentation")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write a Markdown summary (default: beside --json)")
    p.add_argument("--confusion", metavar="PNG", help="confusion matrix picture (default: beside --json)")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = evaluate(args.model, args.data, split=args.split, tta=args.tta, batch_size=args.batch_size)
    stem = Path(args.json).with_suffix("") if args.json else None
    md = args.markdown or (f"{stem}.md" if stem else None)
    png = args.confusion or (f"{stem}_confusion.png" if stem else None)
    write_report(report, args.json, md, png)
    print(markdown_summary(report), end="")
    for path in (args.json, md, png):
        if path:
            print(f"wrote {path}")
    return 0
