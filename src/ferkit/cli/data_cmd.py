"""ferkit data info: what a dataset holds, and what is wrong with it."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from ferkit.cli.common import add_common_output_arguments, check_output_files


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="inspect datasets", description="Inspect datasets.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    info = dsub.add_parser("info", help="counts, imbalance, checks and duplicates",
                           description="Counts per class and split, class imbalance, size and dtype checks, and "
                           "exact and near-duplicate images (perceptual hash, mirrored copies included). Prints a "
                           "text report (or, with --json, the report as JSON).")
    info.add_argument("path", help="npz, FER2013 csv, or folder of class folders")
    info.add_argument("--size", type=int, default=48, help="image size for folders (default 48)")
    info.add_argument("--max-distance", type=int, default=5, help="near-duplicate Hamming distance in bits")
    info.add_argument("--no-duplicates", action="store_true", help="skip the duplicate search")
    info.add_argument("--out", metavar="PATH", help="also write the report as JSON to this file")
    add_common_output_arguments(info, json_help="print the report as JSON instead of text")
    info.set_defaults(func=run_info)
    dedupe = dsub.add_parser("dedupe", help="a copy without exact and near-duplicate images",
                             description="Write a copy of a dataset without its exact and near-duplicate images "
                             "(perceptual hash, mirrored copies included): each group keeps one image, a test image "
                             "before a validation image before a training image, so training images that duplicate "
                             "a test image are dropped. The removals are listed, with the image each duplicates and "
                             "why, in a CSV beside the copy.")
    dedupe.add_argument("path", help="npz, FER2013 csv, or folder of class folders")
    dedupe.add_argument("--out", required=True, help="CLEAN.npz (FER2013 layout; CLEAN.removed.csv beside it) or a "
                        "new folder CLEAN/ (class folders, with CLEAN/removed.csv)")
    dedupe.add_argument("--size", type=int, default=48, help="image size for folders (default 48)")
    dedupe.add_argument("--max-distance", type=int, default=5, help="near-duplicate Hamming distance in bits")
    add_common_output_arguments(dedupe, json_help="print the counts as JSON")
    dedupe.set_defaults(func=run_dedupe)


@contextmanager
def warnings_as_notes():
    """Show the loaders' warnings (an empty class folder...) as one ``warning:`` line each on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        yield


def check_outputs(outputs: list[Path], inputs: list[str], overwrite: bool) -> None:
    """Refuse, before any work, outputs that would replace an input, are folders, cannot be written or
    exist (unless ``overwrite``): :func:`ferkit.cli.common.check_output_files`."""
    check_output_files(outputs, inputs, overwrite)


def run_info(args: argparse.Namespace) -> int:
    from ferkit.data import load_dataset
    from ferkit.data.info import dataset_info, format_info

    out = Path(args.out) if args.out else None
    if out:
        check_outputs([out], [args.path], args.overwrite)
    progress = not args.no_progress
    with warnings_as_notes():
        ds = load_dataset(args.path, size=args.size, progress=progress)
    info = dataset_info(ds, duplicates=not args.no_duplicates, max_distance=args.max_distance, progress=progress)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(info, indent=2))
        print(f"wrote {out}", file=sys.stderr)
    return 0


def run_dedupe(args: argparse.Namespace) -> int:
    from ferkit.core.errors import OptionError
    from ferkit.core.options import check_int
    from ferkit.data import load_dataset
    from ferkit.data.dedupe import dedupe_dataset, output_paths

    check_int("data dedupe", "max_distance", args.max_distance, lo=0, hi=64)
    data_out, csv_out = output_paths(args.out)
    if data_out.suffix.lower() == ".npz":
        check_outputs([data_out, csv_out], [args.path], args.overwrite)
    else:
        if data_out.resolve() == Path(args.path).resolve():
            raise OptionError(f"--out {data_out} is the dataset itself: give a new folder")
        if data_out.exists() and any(data_out.iterdir()):
            from ferkit.core.errors import OutputExistsError

            raise OutputExistsError(f"{data_out} exists and is not empty: give a new folder (nothing is written over)")
    with warnings_as_notes():
        ds = load_dataset(args.path, size=args.size, progress=not args.no_progress)
    summary = dedupe_dataset(ds, data_out, args.max_distance, progress=not args.no_progress)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['dataset']}: {summary['images']} images, kept {summary['kept']}, removed {summary['removed']} "
              f"({summary['removed_exact']} exact, {summary['removed_near']} near duplicates; "
              f"{summary['training_images_duplicating_test']} training images duplicating a test image)")
        print(f"wrote {summary['out']} and {summary['removed_csv']}")
    return 0
