"""The ``ferkit`` command: a thin layer over the Python API.

Each subcommand lives in its own module with ``add_parser(subparsers)`` (argument definitions only:
light imports) and ``run(args)`` (which imports what the work needs). A command's module is imported
only when that command runs, so ``ferkit --version`` and every ``--help`` start fast and load
neither PyTorch, scikit-learn nor matplotlib.

Exit codes: 0 done; 1 some inputs could not be used (each reported); 2 bad arguments, options or
inputs (one line saying what is wrong); 130 interrupted (what was done is kept). An unexpected error
keeps its traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from ferkit import __version__

#: name -> (module, one-line help); the order of ``ferkit --help``
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("ferkit.cli.analyze_cmd", "faces and emotions in images and videos"),
    "webcam": ("ferkit.cli.webcam_cmd", "live analysis of a camera or stream"),
    "score-videos": ("ferkit.cli.score_videos_cmd", "score video-level predictions against gold labels"),
    "harvest": ("ferkit.cli.harvest_cmd", "build a labelled face dataset from videos"),
    "serve": ("ferkit.cli.serve_cmd", "the web app: photos, the live webcam and videos in a browser"),
    "report": ("ferkit.cli.report_cmd", "a collection report: one row per video of a folder of results"),
    "train": ("ferkit.cli.train_cmd", "train a model"),
    "distill": ("ferkit.cli.distill_cmd", "train a student model from a teacher model or ensemble"),
    "study": ("ferkit.cli.study_cmd", "train and compare the runs of a study file"),
    "evaluate": ("ferkit.cli.evaluate_cmd", "evaluate a checkpoint or ONNX model on a dataset split"),
    "export": ("ferkit.cli.export_cmd", "export a checkpoint to ONNX"),
    "prune": ("ferkit.cli.prune_cmd", "remove channels from a trained model, then fine-tune it"),
    "soup": ("ferkit.cli.soup_cmd", "average the weights of several checkpoints into one model"),
    "recalibrate": ("ferkit.cli.recalibrate_cmd", "re-estimate a checkpoint's batch-norm statistics"),
    "quantize": ("ferkit.cli.quantize_cmd", "int8 quantization of an ONNX model, checked against fp32"),
    "ensemble": ("ferkit.cli.ensemble_cmd", "average several ONNX models in one ONNX model"),
    "predict": ("ferkit.cli.predict_cmd", "emotion probabilities of face crops"),
    "data": ("ferkit.cli.data_cmd", "inspect datasets"),
    "models": ("ferkit.cli.models_cmd", "list registered models and face detectors"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command's full arguments (``command`` None) or only that command's
    (the others listed by name and help, their modules not imported)."""
    parser = argparse.ArgumentParser(prog="ferkit", description="Facial expression recognition toolkit.")
    parser.add_argument("--version", action="version", version=f"ferkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    from ferkit.core.errors import FerkitError

    # ferkit reports unreadable inputs itself; OpenCV's own log lines only add noise (read at cv2's import)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _chosen_command(argv)
    args = build_parser(command or "").parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        result = args.func(args)
    except FerkitError as exc:
        print(f"ferkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ferkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`ferkit ... | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
