"""ferkit quantize: static int8 quantization of an exported model, measured against fp32."""

from __future__ import annotations

import argparse

from ferkit.cli.common import add_card_arguments, card_outputs, check_card_sources, check_output_files, write_card


def add_parser(sub) -> None:
    p = sub.add_parser(
        "quantize", help="int8 quantization of an ONNX model, checked against fp32",
        description="Quantize an exported model to int8 with ONNX Runtime's static quantization (QDQ, per-channel "
        "weights, reduce_range for CPUs without VNNI), calibrated on training faces; then measure fp32 and int8 "
        "faces/s on this machine and their validation accuracy, and say which is faster. The record goes into "
        "the model's metadata and NAME.quantization.json beside it.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--calibrate", required=True, metavar="DATA", help="dataset whose training faces calibrate "
                   "(and whose validation split measures the accuracy change)")
    p.add_argument("--out", required=True, help="the int8 model (.onnx)")
    p.add_argument("--faces", type=int, default=512, help="calibration faces (default 512)")
    p.add_argument("--no-reduce-range", action="store_true", help="8-bit weights (for CPUs with VNNI)")
    p.add_argument("--threads", type=int, default=2, help="threads for the speed comparison (default 2)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    add_card_arguments(p, from_checkpoint=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ferkit.core.errors import MissingInputError, OptionError
    from ferkit.export.ensemble import is_ensemble
    from ferkit.export.quantize import quantize_model

    if args.card_data:
        if not Path(args.model).is_file():
            raise MissingInputError(f"{args.model}: no such model file")
        ensemble = is_ensemble(args.model)
        if not args.card_checkpoint and not ensemble:
            raise OptionError("--card-data needs --card-checkpoint: the checkpoint the model was exported from "
                              "(an ensemble's card comes from its metadata and needs none)")
        if args.card_checkpoint and ensemble:
            raise OptionError(f"{args.model} is an ensemble: its card comes from its metadata (members, weights, "
                              "selection); leave out --card-checkpoint")
        check_output_files(card_outputs(args.out), [args.model, args.calibrate, args.card_checkpoint, args.card_data,
                                                    args.card_cross, args.card_config], args.overwrite)
        check_card_sources(args)
    record = quantize_model(args.model, args.out, args.calibrate, n_calibration=args.faces,
                            reduce_range=not args.no_reduce_range, threads=args.threads, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        report(args, record)
    if args.card_data:
        write_card(args, args.card_checkpoint, args.out)
    return 0


def report(args: argparse.Namespace, record: dict) -> None:
    speed = record["faces_per_second"]
    print(f"wrote {args.out} ({record['size_mb']['int8']:.2f} MB, fp32 {record['size_mb']['fp32']:.2f} MB)")
    print(f"faces/s on this machine ({args.threads} threads, batch 64, preprocessing included): fp32 {speed['fp32']:.0f}, "
          f"int8 {speed['int8']:.0f}: {record['faster']} is faster")
    if "val_accuracy" in record:
        acc = record["val_accuracy"]
        print(f"validation accuracy: fp32 {acc['fp32']:.4f}, int8 {acc['int8']:.4f} ({acc['int8'] - acc['fp32']:+.4f})")
    print(f"same label as fp32 on {100 * record['calibration_agreement']:.1f}% of the calibration faces")
