"""ferkit ensemble: several ONNX models averaged in one ONNX model."""

from __future__ import annotations

import argparse

from ferkit.cli.common import add_card_arguments, card_outputs, check_card_sources, check_output_files, write_card


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
    p.add_argument("--split", choices=("train", "val", "test", "all"),
                   help="the split --select-on selects on (default val: FER2013 PublicTest; never test)")
    p.add_argument("--tta", choices=("none", "flip"),
                   help="test-time augmentation while selecting, as the ensemble will be used (default none)")
    p.add_argument("--rounds", type=int, help="greedy picks after the best subset (default: twice the candidates)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out (never a member)")
    add_card_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ferkit.core.errors import OptionError
    from ferkit.export.ensemble import check_ensemble_out, check_members, make_ensemble

    names = args.names.split(",") if args.names else None
    if names is not None and len(names) != len(args.members):
        raise OptionError(f"{len(names)} names for {len(args.members)} members: give one name per member")
    given = [f"--{k}" for k in ("split", "tta", "rounds") if getattr(args, k) is not None]
    card_given = [f"--card-{k}" for k in ("cross", "command", "config") if getattr(args, f"card_{k}")]
    if card_given and not args.card_data:
        raise OptionError(f"{', '.join(card_given)} only apply with --card-data DATA")
    if args.card_data:
        check_output_files(card_outputs(args.out), [*args.members, args.select_on, args.card_data, args.card_cross,
                                                    args.card_config], args.overwrite)
        check_card_sources(args)
    if args.select_on is None:
        if given:
            raise OptionError(f"{', '.join(given)} only apply with --select-on DATA")
        out = make_ensemble(args.members, args.out, weights=args.weights, names=names, overwrite=args.overwrite)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(args.members)} members")
        if args.card_data:
            write_card(args, None, out)
        return 0
    if args.weights is not None:
        raise OptionError("--weights and --select-on both set the weights: keep one")
    if args.rounds is not None and args.rounds < 0:
        raise OptionError(f"--rounds must be 0 or more, got {args.rounds}")
    split = args.split or "val"
    if split in ("test", "all"):
        print(f"warning: selecting on the {split} split makes its accuracy a selected figure, not a test result",
              file=sys.stderr)
    check_members(args.members)  # before the selection's inference, not after
    check_ensemble_out(args.out, args.members, args.overwrite)
    from ferkit.evaluate.selection import select_members

    sel = select_members(args.members, args.select_on, split=split, tta=args.tta or "none", rounds=args.rounds or 0,
                         progress=not args.no_progress)
    print(f"selection on {sel.dataset} (n = {sel.n}, TTA {sel.tta})")
    print("| candidate | accuracy alone |\n|---|---|")
    for path, acc in sel.single.items():
        print(f"| {path} | {acc:.4f} |")
    print("| round | added | accuracy | log loss |\n|---|---|---|---|")
    for row in sel.trace:
        print(f"| {row['round']} | {', '.join(row['added'])} | {row['accuracy']:.4f} | {row['log_loss']:.4f} |")
    if len(sel.members) < 2:
        print(f"no ensemble beat {sel.members[0]} alone ({sel.accuracy:.4f}) on this split: nothing written",
              file=sys.stderr)
        return 1
    by_path = {Path(m): n for m, n in zip(args.members, names or [])}
    out = make_ensemble(sel.members, args.out, weights=sel.weights, overwrite=args.overwrite,
                        names=[by_path[m] for m in sel.members] if names else None, selection=sel.record())
    chosen = ", ".join(f"{m.name} {w:.3f}" for m, w in zip(sel.members, sel.weights))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(sel.members)} of {len(args.members)} candidates "
          f"({chosen}), accuracy {sel.accuracy:.4f} on {sel.split}")
    if args.card_data:
        write_card(args, None, out)
    return 0
