"""ferkit ensemble: several ONNX models averaged in one ONNX model."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ensemble", help="average several ONNX models in one ONNX model",
        description="Average the class probabilities of several ONNX models (from `ferkit export`) in one ONNX "
        "graph with ferkit's metadata: `evaluate`, `analyze`, the Recognizer and every other command take it like "
        "any model, and `evaluate` also reports each member. Members must have the same classes and face size; "
        "their crops and normalisation may differ.")
    p.add_argument("members", nargs="+", metavar="MODEL.onnx", help="two or more member models")
    p.add_argument("--out", required=True, help="the ensemble's .onnx path")
    p.add_argument("--weights", metavar="W1,W2,...", help="one weight per member (normalised to sum to 1; "
                   "default: equal)")
    p.add_argument("--names", metavar="N1,N2,...", help="member names in reports (default: the file names)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out (never a member)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.core.errors import OptionError
    from ferkit.export.ensemble import make_ensemble

    names = args.names.split(",") if args.names else None
    if names is not None and len(names) != len(args.members):
        raise OptionError(f"{len(names)} names for {len(args.members)} members: give one name per member")
    out = make_ensemble(args.members, args.out, weights=args.weights, names=names, overwrite=args.overwrite)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(args.members)} members")
    return 0
