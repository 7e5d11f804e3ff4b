"""ferkit recalibrate: re-estimate a checkpoint's batch-norm statistics on clean training faces."""

from __future__ import annotations

import argparse

from ferkit.cli.common import add_batchnorm_output_arguments


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recalibrate", help="re-estimate a checkpoint's batch-norm statistics",
        description="Write a copy of a checkpoint whose batch-norm statistics are re-estimated on a fixed sample "
        "of clean (not augmented) training faces, as they are seen at inference. A model trained with a weight "
        "average (ema_decay) or on augmented batches can gain accuracy from it at no cost, but not always. The "
        "validation accuracy (FER2013 PublicTest) with the checkpoint's own statistics and with the new ones is printed and "
        "recorded in the model card of what is exported from the copy: keep whichever is better. The test split "
        "is never used; the checkpoint itself is never changed.")
    p.add_argument("checkpoint", metavar="CKPT.pt", help="a checkpoint (.pt) of a model with batch normalisation")
    p.add_argument("--data", required=True, help="dataset whose training faces re-estimate the statistics and "
                   "whose validation split measures the change")
    p.add_argument("--out", required=True, help="the re-estimated checkpoint (.pt)")
    add_batchnorm_output_arguments(p, kept="the checkpoint", json_help="print the record as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ferkit.compress.recalibrate import recalibrate_checkpoint

    record = recalibrate_checkpoint(args.checkpoint, args.out, args.data, bn_faces=args.bn_faces,
                                    overwrite=args.overwrite)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    change = record["accuracy_after"] - record["accuracy_before"]
    print(f"wrote {args.out}: batch-norm statistics re-estimated on {record['faces']:,} training faces; "
          f"validation accuracy {record['accuracy_before']:.4f} -> {record['accuracy_after']:.4f} "
          f"({change * 100:+.2f} points)")
    return 0
