"""ferkit ensemble: several ONNX models averaged in one ONNX model."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ensemble", help="average several ONNX models in one ONNX model",
        description="Average the class probabilities of several ONNX models (from `ferkit export`) in one ONNX "
        "graph with ferkit's metadata: `evaluate`, `analyze`, the Recognizer and every other command take it like "
        "any model, and `evaluate` also reports each member. Members must have the same classes and face size; "
        "their crops and normalisation may differ. With --select-on, the members and weights are chosen on a "
        "validation split (the best equal-weight subset, then greedy forward selection with replacement) and the "
        "choice is recorded in the ensemble's metadata.")
    p.add_argument("members", nargs="+", metavar="MODEL.onnx", help="two or more member models (candidates with --select-on)")
    p.add_argument("--out", required=True, help="the ensemble's .onnx path")
    p.add_argument("--weights", metavar="W1,W2,...", help="one weight per member (normalised to sum to 1; "
                   "default: equal)")
    p.add_argument("--names", metavar="N1,N2,...", help="member names in reports (default: the file names)")
    p.add_argument("--select-on", metavar="DATA", help="choose members and weights on a split of DATA (greedy "
                   "forward selection with replacement): candidates that do not help are left out")
    p.add_argument("--split", default="val", choices=("train", "val", "test", "all"),
                   help="the split --select-on selects on (default val: FER2013 PublicTest)")
    p.add_argument("--tta", default="none", choices=("none", "flip", "ten_crop"),
                   help="test-time augmentation while selecting: as the ensemble will be used")
    p.add_argument("--rounds", type=int, default=0, help="at most this many picks (default: twice the candidates)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out (never a member)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ferkit.core.errors import OptionError
    from ferkit.core.outputs import check_writable
    from ferkit.export.ensemble import check_members, make_ensemble

    names = args.names.split(",") if args.names else None
    if names is not None and len(names) != len(args.members):
        raise OptionError(f"{len(names)} names for {len(args.members)} members: give one name per member")
    if args.select_on is None:
        out = make_ensemble(args.members, args.out, weights=args.weights, names=names, overwrite=args.overwrite)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(args.members)} members")
        return 0
    if args.weights is not None:
        raise OptionError("--weights and --select-on both set the weights: keep one")
    check_members(args.members)  # before the selection's inference, not after
    check_writable(Path(args.out), overwrite=args.overwrite, inputs=list(args.members))
    from ferkit.evaluate.selection import select_members

    sel = select_members(args.members, args.select_on, split=args.split, tta=args.tta, rounds=args.rounds,
                         progress=not args.no_progress)
    print(f"selection on {sel.dataset} (n = {sel.n}, TTA {sel.tta})")
    print("| candidate | accuracy alone |\n|---|---|")
    for path, acc in sel.single.items():
        print(f"| {path} | {acc:.4f} |")
    print("| round | added | accuracy | log loss |\n|---|---|---|---|")
    for row in sel.trace:
        print(f"| {row['round']} | {', '.join(row['added'])} | {row['accuracy']:.4f} | {row['log_loss']:.4f} |")
    if len(sel.members) < 2:
        print(f"no ensemble beat {sel.members[0]} alone ({sel.accuracy:.4f}) on this split: nothing written")
        return 1
    by_path = {Path(m): n for m, n in zip(args.members, names or [])}
    out = make_ensemble(sel.members, args.out, weights=sel.weights, overwrite=args.overwrite,
                        names=[by_path[m] for m in sel.members] if names else None, selection=sel.record())
    chosen = ", ".join(f"{m.name} {w:.3f}" for m, w in zip(sel.members, sel.weights))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(sel.members)} of {len(args.members)} candidates "
          f"({chosen}), accuracy {sel.accuracy:.4f} on {sel.split}")
    return 0
