"""ferkit export: a checkpoint to ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse

from ferkit.cli.common import add_card_arguments, card_outputs, check_card_sources, check_output_files, write_card


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX", description="Export a checkpoint to ONNX "
                       "(dynamic batch, classes and preprocessing in the metadata) and check it against PyTorch.")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="output .onnx path (never the checkpoint)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; what this PyTorch exports, "
                   "about 9..20)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    p.add_argument("--no-progress", action="store_true", help="accepted for symmetry; export shows no progress bar")
    add_card_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.export.onnx import check_export, export_onnx, max_abs_difference

    # every output checked before any work: the .onnx, and the model card files beside it
    out = check_export(args.checkpoint, args.out, opset=args.opset, overwrite=args.overwrite)
    inputs = [args.checkpoint, args.card_data, args.card_cross, args.card_config]
    if args.card_data:
        check_output_files([out, *card_outputs(out)], inputs, args.overwrite)
        check_card_sources(args)
    out = export_onnx(args.checkpoint, out, opset=args.opset, overwrite=args.overwrite)
    diff = max_abs_difference(args.checkpoint, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); max |logit difference| vs PyTorch: {diff:.2e}")
    if args.card_data:
        write_card(args, args.checkpoint, out)
    return 0
