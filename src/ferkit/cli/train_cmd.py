"""ferkit train: train a model from a config file, with flags overriding it.

Only argparse and the standard library are imported here: ``ferkit train --help`` loads no PyTorch;
``run`` imports the training code."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model",
        description="Train a model. Every config field has a default; --config reads TOML or YAML; "
        "flags and --set key=value override it (e.g. --set augment.rotate=15 --set model_cfg.dropout=0.4).",
    )
    add_training_arguments(p)
    p.add_argument(
        "--folds", type=int, metavar="K",
        help="subject-grouped K-fold cross-validation (datasets without an official split, e.g. CK+): "
        "trains K models in OUT/fold_XX, tests each on its held-out subjects, writes OUT/cv_summary.{json,md} "
        "and a pooled confusion matrix; run the same command again to continue an interrupted one",
    )
    p.set_defaults(func=run)


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments ferkit train and ferkit distill share."""
    p.add_argument("--config", help="TOML or YAML config file")
    p.add_argument("--data", help="dataset path (npz, FER2013 csv, or folder of class folders)")
    p.add_argument("--out", help="output folder for checkpoints, metrics.csv and curves.png")
    p.add_argument("--arch", metavar="NAME", help="architecture: a registered model name (see `ferkit models`); "
                   "the config's `model`")
    # --model names an inference model file in every other command: refused here with a pointer to --arch
    p.add_argument("--model", dest="model_flag", help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from its last.pt: with the config that checkpoint records (unless --config is "
                   "given; flags and --set still override it, e.g. --epochs to extend the run), in its folder "
                   "(unless --out), with the architecture it was trained with")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an --out folder that holds an earlier run (its last.pt, best.pt, "
                   "metrics.csv, curves.png and config.json are replaced)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    """Train as the arguments say; ``extra`` are more ``key=value`` overrides (ferkit distill's)."""
    from ferkit.core.errors import OptionError

    if args.model_flag is not None:
        raise OptionError(f"ferkit train takes the architecture as --arch NAME (e.g. --arch {args.model_flag}); "
                          "--model names an inference model file in the other commands")
    folds = getattr(args, "folds", None)
    if folds is not None:
        if args.resume:
            raise OptionError("--folds resumes by itself: run the same command again, without --resume")
        if args.overwrite:
            raise OptionError("--folds continues an earlier cross-validation in --out by itself; "
                              "to start over, use another --out")
        if folds < 2:
            raise OptionError(f"--folds needs at least 2, got {folds}")
    if args.resume and args.overwrite:
        raise OptionError("--resume continues the run in --out and --overwrite replaces it: give one of them")

    from pathlib import Path

    from ferkit.train import load_config, run_config, train
    from ferkit.train.trainer import check_out

    out = args.out
    if args.resume and not args.config and out is None:
        out = str(Path(args.resume).parent)  # the run's folder, wherever it has moved
    flags = {"data": args.data, "out": out, "model": args.arch, "epochs": args.epochs,
             "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    overrides = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in flags.items() if v is not None]
    overrides += args.set + (extra or [])
    if args.resume and not args.config:  # the run's own config, as its checkpoint records it
        cfg = run_config(args.resume, overrides)
    else:
        cfg = load_config(args.config, overrides)
    if not cfg.data:
        raise OptionError("no dataset: give --data PATH or data = ... in the config")
    progress = False if args.no_progress else None
    if folds is not None:
        from ferkit.train.crossval import cross_validate
        from ferkit.train.crossval import summary_markdown as cv_summary_markdown

        summary = cross_validate(cfg, folds=folds, progress=progress)
        print(cv_summary_markdown(summary), end="")
        return 130 if summary["interrupted"] else 0
    check_out(cfg.out, args.resume, args.overwrite)  # before the dataset loads
    result = train(cfg, resume=args.resume, progress=progress, overwrite=args.overwrite)
    summary = {
        "best_checkpoint": str(result.best_checkpoint),
        "best_val_acc": round(result.best_val_acc, 4),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "interrupted": result.interrupted,
        "stopped_early": result.stopped_early,
    }
    print(json.dumps(summary, indent=2))
    return 130 if result.interrupted else 0
