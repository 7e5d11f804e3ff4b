"""ferkit train: train a model from a config file, with flags overriding it."""

from __future__ import annotations

import argparse
import json

from ferkit.train import load_config, train
from ferkit.train.crossval import cross_validate
from ferkit.train.crossval import summary_markdown as cv_summary_markdown


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model",
        description="Train a model. Every config field has a default; --config reads TOML or YAML; "
        "flags and --set key=value override it (e.g. --set augment.rotate=15 --set model_cfg.dropout=0.4).",
    )
    p.add_argument("--config", help="TOML or YAML config file")
    p.add_argument("--data", help="dataset path (npz, FER2013 csv, or folder of class folders)")
    p.add_argument("--out", help="output folder for checkpoints, metrics.csv and curves.png")
    p.add_argument("--model", help="registered model name (see `ferkit models`)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its last.pt")
    p.add_argument(
        "--folds", type=int, metavar="K",
        help="subject-grouped K-fold cross-validation (datasets without an official split, e.g. CK+): "
        "trains K models in OUT/fold_XX, tests each on its held-out subjects, writes OUT/cv_summary.{json,md} "
        "and a pooled confusion matrix; run the same command again to continue an interrupted one",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {"data": args.data, "out": args.out, "model": args.model, "epochs": args.epochs,
             "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    overrides = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in flags.items() if v is not None]
    cfg = load_config(args.config, overrides + args.set)
    if not cfg.data:
        raise ValueError("no dataset: give --data PATH or data = ... in the config")
    progress = False if args.no_progress else None
    if args.folds:
        if args.resume:
            raise ValueError("--folds resumes by itself: run the same command again, without --resume")
        if args.folds < 2:
            raise ValueError("--folds needs at least 2")
        summary = cross_validate(cfg, folds=args.folds, progress=progress)
        print(cv_summary_markdown(summary), end="")
        return 130 if summary["interrupted"] else 0
    result = train(cfg, resume=args.resume, progress=progress)
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
