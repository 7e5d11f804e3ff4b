"""The ``ferkit`` command: a thin layer over the Python API. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys

from ferkit import __version__
from ferkit.cli import (
    analyze_cmd,
    data_cmd,
    evaluate_cmd,
    export_cmd,
    models_cmd,
    predict_cmd,
    score_videos_cmd,
    train_cmd,
    webcam_cmd,
)

COMMANDS = (analyze_cmd, webcam_cmd, score_videos_cmd, train_cmd, evaluate_cmd, export_cmd, predict_cmd, data_cmd, models_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ferkit", description="Facial expression recognition toolkit.")
    parser.add_argument("--version", action="version", version=f"ferkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _quiet_opencv() -> None:
    """ferkit reports unreadable inputs itself; OpenCV's own decoder warnings only add noise."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except (ImportError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_opencv()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, FileExistsError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"ferkit {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
