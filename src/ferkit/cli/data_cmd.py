"""ferkit data info: what a dataset holds, and what is wrong with it."""

from __future__ import annotations

import argparse
import json

from ferkit.data import load_dataset
from ferkit.data.info import dataset_info, format_info


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="inspect datasets", description="Inspect datasets.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    info = dsub.add_parser("info", help="counts, imbalance, checks and duplicates",
                           description="Counts per class and split, class imbalance, size and dtype checks, and "
                           "exact and near-duplicate images (perceptual hash, mirrored copies included).")
    info.add_argument("path", help="npz, FER2013 csv, or folder of class folders")
    info.add_argument("--size", type=int, default=48, help="image size for csv/folders (default 48)")
    info.add_argument("--max-distance", type=int, default=5, help="near-duplicate Hamming distance in bits")
    info.add_argument("--no-duplicates", action="store_true", help="skip the duplicate search")
    info.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    info.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    ds = load_dataset(args.path, size=args.size)
    info = dataset_info(ds, duplicates=not args.no_duplicates, max_distance=args.max_distance)
    print(format_info(info))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(info, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
