"""ferkit prune: structured channel pruning, then fine-tuning, measured before and after."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "prune", help="remove channels from a trained model, then fine-tune it",
        description="Prune a checkpoint with Torch-Pruning's dependency graph (channels are really removed, not "
        "masked; pip install ferkit[compress]), then fine-tune it with the original run's training config; prints "
        "parameters, MACs, faces/s and validation accuracy before, after pruning and after fine-tuning.")
    p.add_argument("checkpoint")
    p.add_argument("--ratio", type=float, required=True, help="share of channels removed per layer group, 0-0.95")
    p.add_argument("--round-to", type=int, metavar="N",
                   help="round the channels each layer group keeps down to a multiple of N (8 suits CPU kernels; "
                   "default: exactly the ratio)")
    p.add_argument("--finetune-epochs", type=int, default=0, help="epochs of fine-tuning after pruning (default 0)")
    p.add_argument("--data", help="dataset for fine-tuning and the validation accuracy")
    p.add_argument("--out", required=True, help="folder: pruned.pt, finetune/ and prune_report.json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fine-tuning config overrides")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ferkit.compress.prune import prune_checkpoint

    report = prune_checkpoint(args.checkpoint, args.out, args.ratio, args.finetune_epochs, args.data, args.set,
                              progress=False if args.no_progress else None, overwrite=args.overwrite,
                              round_to=args.round_to)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("faces/s: exported to ONNX, ONNX Runtime, 2 threads, batches of 64, preprocessing included")
    print(f"{'stage':<12} {'params':>12} {'MACs/face':>11} {'faces/s':>9} {'val acc':>8}")
    for stage in ("before", "pruned", "finetuned"):
        if stage in report:
            m = report[stage]
            acc = f"{m['val_accuracy']:.4f}" if "val_accuracy" in m else "-"
            print(f"{stage:<12} {m['parameters']:>12,} {m['macs'] / 1e6:>10.1f}M {m['faces_per_second']:>9.0f} {acc:>8}")
    return 0
