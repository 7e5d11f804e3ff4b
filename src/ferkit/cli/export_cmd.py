"""ferkit export: a checkpoint to ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse

from ferkit.export import export_onnx, max_abs_difference


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX", description="Export a checkpoint to ONNX "
                       "(dynamic batch, classes and preprocessing in the metadata) and check it against PyTorch.")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="output .onnx path")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = export_onnx(args.checkpoint, args.out, opset=args.opset, overwrite=args.overwrite)
    diff = max_abs_difference(args.checkpoint, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); max |logit difference| vs PyTorch: {diff:.2e}")
    return 0
