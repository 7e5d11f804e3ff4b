"""ferkit study: train, evaluate and compare the runs of a study file."""

from __future__ import annotations

import argparse
import shlex


def add_parser(sub) -> None:
    p = sub.add_parser(
        "study", help="train and compare the runs of a study file",
        description="Train every run of a study file (TOML: a base config and runs of overrides and seeds) in "
        "turn, evaluate each on validation, on the test split with and without flip TTA, and cross-dataset, "
        "then write study.csv, study.md and plots to --out. Running the same command again continues: finished "
        "runs are kept, an interrupted one resumes. Studies ship in configs/studies/.")
    p.add_argument("study", metavar="STUDY.toml")
    p.add_argument("--out", help="study folder (default: runs/study_NAME)")
    p.add_argument("--data", help="dataset path instead of the study file's")
    p.add_argument("--epochs", type=int, help="train every run for N epochs (a quick version)")
    p.add_argument("--limit", type=int, metavar="N", help="train every run on N training images, class-stratified "
                   "(a quick version; validation and test stay whole)")
    p.add_argument("--runs", metavar="NAME", nargs="+", help="only these runs of the file")
    p.add_argument("--dry-run", action="store_true", help="check the file and print the planned runs; train nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ferkit.core.errors import OptionError

    for flag in ("epochs", "limit"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise OptionError(f"--{flag} must be at least 1, got {value}")
    from ferkit.study import read_study, run_study
    from ferkit.study.runner import plan_units

    spec = read_study(args.study, data=args.data)
    out = Path(args.out or f"runs/study_{spec.name}")
    if args.dry_run:
        for u in plan_units(spec, out, args.epochs, args.limit, args.runs):
            print(f"{u.key}: {u.cfg.model} {json.dumps(u.cfg.model_cfg)} epochs {u.cfg.epochs} -> {u.out}")
        return 0
    command = " ".join(["ferkit", "study", shlex.quote(args.study)] + [
        f"--{flag.replace('_', '-')} {shlex.quote(str(getattr(args, flag)))}"
        for flag in ("out", "data", "epochs", "limit") if getattr(args, flag) is not None
    ] + (["--runs", *args.runs] if args.runs else []))
    summary = run_study(spec, out, epochs=args.epochs, limit=args.limit, only=args.runs,
                        progress=False if args.no_progress else None, command=command)
    print((out / "study.md").read_text(), end="")
    return 130 if summary["interrupted"] else 0
