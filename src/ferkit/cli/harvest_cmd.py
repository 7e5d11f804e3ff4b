"""ferkit harvest: a labelled face dataset from videos."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "harvest", help="build a labelled face dataset from videos",
        description="Sample frames from videos, detect, track and label faces (the analyze pipeline), keep the "
        "confident ones in train/val/test/<class>/ folders grouped by video, send uncertain ones to review/, remove "
        "near-duplicates, and write manifest.csv, report.md and contact sheets. Running it again on more videos "
        "adds them; an interrupted harvest continues.")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER")
    p.add_argument("--out", required=True, help="dataset folder (new, empty, or an earlier harvest to extend)")
    p.add_argument("--fps", type=float, default=2.0, help="frames sampled per second (default 2)")
    p.add_argument("--model", help="labelling model: a bundled name, an ONNX model or ensemble, or a checkpoint")
    p.add_argument("--tta", choices=("none", "flip"), default="none", help="label with flip test-time augmentation")
    p.add_argument("--detector", default="blazeface", help="face detector (see ferkit models)")
    p.add_argument("--min-score", type=float, default=0.5, help="detector score to keep a face (default 0.5)")
    p.add_argument("--min-face", type=int, default=40, help="smallest face box side in pixels (default 40)")
    p.add_argument("--min-prob", type=float, default=0.6, help="top class probability to keep a face (default 0.6)")
    p.add_argument("--min-margin", type=float, default=0.2, help="top minus second probability (default 0.2)")
    p.add_argument("--stable", type=int, default=0, metavar="K",
                   help="keep a face only when its track has the same label K samples before and after (0: off)")
    p.add_argument("--dedupe-bits", type=int, default=6, help="pHash bits within which faces are near-identical "
                   "(mirrored copies included; default 6; -1 keeps every face)")
    p.add_argument("--size", type=int, default=48, help="side of the aligned grayscale face crops (default 48)")
    p.add_argument("--original-size", type=int, default=0, help="also save the larger colour crop at this side "
                   "in originals/ (default 0: no)")
    p.add_argument("--split", choices=("video", "none"), default="video",
                   help="video: train/val/test grouped by video (default); none: one folder of class folders")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--groups", metavar="CSV", help="a CSV with columns video,group (a person, a show): videos of "
                   "one group always share a split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ferkit.harvest import HarvestOptions, harvest
    from ferkit.harvest.harvester import read_groups

    options = HarvestOptions(
        fps=args.fps, detector=args.detector, min_score=args.min_score, min_face=args.min_face, model=args.model,
        tta=args.tta, min_prob=args.min_prob, min_margin=args.min_margin, stable=args.stable,
        dedupe_bits=args.dedupe_bits, size=args.size, original_size=args.original_size, split=args.split,
        val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed)
    groups = read_groups(args.groups) if args.groups else None
    summary = harvest(args.inputs, args.out, options, progress=False if args.no_progress else None, groups=groups)
    report = summary.pop("report")
    if args.json:
        print(json.dumps({**summary, "totals": report["totals"], "per_split": report["per_split"],
                          "leakage": report["leakage"]}, indent=2))
    elif not (Path(summary["out"]) / "report.md").exists():
        print(f"nothing harvested into {summary['out']}: no input could be read")
    else:
        t = report["totals"]
        print(f"harvested {len(summary['harvested'])} videos ({len(summary['skipped'])} done before) into "
              f"{summary['out']}: {t['kept']} faces kept, {t['review']} for review, "
              f"{t['duplicate_in_track'] + t['duplicate_across']} near-duplicates removed; see report.md")
    for failed in summary["failed"]:
        message = failed["error"]
        print(f"error: {message}" if message.startswith(failed["path"]) else f"error: {failed['path']}: {message}")
    if summary["interrupted"]:
        return 130
    return 1 if summary["failed"] else 0
