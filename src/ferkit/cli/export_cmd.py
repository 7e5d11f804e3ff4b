"""ferkit export: a checkpoint to ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ferkit.cli.common import check_output_files


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX", description="Export a checkpoint to ONNX "
                       "(dynamic batch, classes and preprocessing in the metadata) and check it against PyTorch.")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="output .onnx path (never the checkpoint)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; what this PyTorch exports, "
                   "about 9..20)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    p.add_argument("--no-progress", action="store_true", help="accepted for symmetry; export shows no progress bar")
    p.add_argument("--card-data", metavar="PATH", help="also write a model card (JSON + Markdown beside --out) "
                   "with metrics on this dataset's val and test splits")
    p.add_argument("--card-cross", metavar="PATH", help="dataset evaluated whole for the card's cross-dataset results")
    p.add_argument("--card-command", default="", help="the training command, recorded in the card")
    p.add_argument("--card-config", default="", help="the training config file, recorded in the card")
    p.set_defaults(func=run)


def card_outputs(out: str | Path) -> tuple[Path, Path]:
    """The model card files written beside ``out`` (as ferkit.export.model_card.card_paths)."""
    stem = Path(out).with_suffix("")
    return stem.with_suffix(".json"), stem.with_suffix(".md")


def run(args: argparse.Namespace) -> int:
    from ferkit.export.onnx import check_export, export_onnx, max_abs_difference

    # every output checked before any work: the .onnx, and the model card files beside it
    out = check_export(args.checkpoint, args.out, opset=args.opset, overwrite=args.overwrite)
    inputs = [args.checkpoint, args.card_data, args.card_cross, args.card_config]
    if args.card_data:
        check_output_files([out, *card_outputs(out)], inputs, args.overwrite)
    out = export_onnx(args.checkpoint, out, opset=args.opset, overwrite=args.overwrite)
    diff = max_abs_difference(args.checkpoint, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); max |logit difference| vs PyTorch: {diff:.2e}")
    if args.card_data:
        from ferkit.export.model_card import card_markdown, make_model_card, write_model_card

        card = make_model_card(args.checkpoint, out, args.card_data, args.card_cross, args.card_command,
                               args.card_config)
        js, md = write_model_card(card, out.with_suffix(""))
        print(card_markdown(card))
        print(f"wrote {js} and {md}")
    return 0
