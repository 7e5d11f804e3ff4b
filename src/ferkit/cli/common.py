"""Arguments shared by commands, so a flag means one thing everywhere: ``--model`` is an inference
model (a file or a bundled name), ``--out`` an output path, ``--overwrite`` replaces outputs,
``--json`` prints JSON, ``--no-progress`` hides progress bars. Light imports only."""

from __future__ import annotations

import argparse

DETECTORS = ("blazeface", "haar", "dlib_hog")
TTA_CHOICES = ("none", "flip", "ten_crop")
SENTIMENT_MAP_CHOICES = ("default", "fear_sad_neutral")


def add_recognizer_arguments(p: argparse.ArgumentParser) -> None:
    """Options of every command that runs a Recognizer."""
    g = p.add_argument_group("recognizer")
    g.add_argument("--model", help="ONNX model or checkpoint file, or a bundled model: default (the default), "
                   "default-int8, fast (about 5x the default's faces/s, int8), fast-fp32, ensemble (the most "
                   "accurate, about half the default's faces/s, int8)")
    g.add_argument("--detector", default="blazeface", choices=DETECTORS)
    g.add_argument("--threshold", type=float, default=0.5, help="minimum face score (default 0.5)")
    g.add_argument("--min-face", type=int, default=20, help="smallest face side in pixels (default 20)")
    g.add_argument("--max-faces", type=int, default=None, help="keep at most this many faces per image")
    g.add_argument("--upsample", type=int, default=0, choices=(0, 1, 2),
                   help="extra effort for small faces: 0, 1 or 2 (each step about doubles detection time)")
    g.add_argument("--no-align", action="store_true", help="do not rotate faces to level the eyes")
    g.add_argument("--tta", default="none", choices=TTA_CHOICES,
                   help="test-time augmentation (flip: +1.7 points on FER2013 PrivateTest, about half the "
                   "classifier speed)")
    g.add_argument("--sentiment-map", default="default", choices=SENTIMENT_MAP_CHOICES)
    g.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads of the classifier and the detector (0: its default, one per physical core)")


def recognizer_options(args: argparse.Namespace):
    from ferkit.infer.options import RecognizerOptions

    return RecognizerOptions(
        model=args.model, detector=args.detector, score_threshold=args.threshold, min_face_size=args.min_face,
        max_faces=args.max_faces, upsample=args.upsample, align=not args.no_align, tta=args.tta,
        threads=args.threads, sentiment_map=args.sentiment_map,
    )


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    """Options of every command that reads frames (video files, cameras, streams)."""
    g = p.add_argument_group("videos and streams")
    g.add_argument("--every", type=int, default=1, help="analyse every Nth frame (default: every frame)")
    g.add_argument("--fps", type=float, default=None, help="analyse about this many frames per second")
    g.add_argument("--detect-every", type=detect_every, default="auto", metavar="auto|K",
                   help="auto (default): search the whole frame every --scan-every seconds and re-find "
                        "tracked faces near where they were in between; K: search the whole of every "
                        "K-th analysed frame and keep the tracked boxes in between")
    g.add_argument("--scan-every", type=float, default=0.5, metavar="SECONDS",
                   help="with --detect-every auto: search the whole frame for new faces at least this "
                        "often (default 0.5)")
    g.add_argument("--smooth", type=float, default=0.5, metavar="SECONDS",
                   help="half-life of the per-track smoothing of probabilities (0: off; raw values are kept)")


def detect_every(text: str) -> int | str:
    """``--detect-every``: a whole number as an int, anything else as given (VideoOptions checks it)."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text.lower()


def video_options(args: argparse.Namespace):
    from ferkit.infer.options import VideoOptions

    return VideoOptions(every=args.every, fps=args.fps, detect_every=args.detect_every,
                        scan_every_s=args.scan_every, smoothing_half_life_s=args.smooth)


def add_batchnorm_output_arguments(p: argparse.ArgumentParser, kept: str, json_help: str) -> None:
    """``--bn-faces``, ``--overwrite`` and ``--json`` of the commands that write a checkpoint with batch-norm
    statistics re-estimated (soup, recalibrate); ``kept``: the inputs ``--overwrite`` never replaces."""
    p.add_argument("--bn-faces", type=int, default=4096,
                   help="training faces that re-estimate them (default 4096, at least 2)")
    p.add_argument("--overwrite", action="store_true", help=f"replace an existing --out (never {kept})")
    p.add_argument("--json", action="store_true", help=json_help)


def add_common_output_arguments(p: argparse.ArgumentParser, json_help: str = "print results as JSON") -> None:
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_output_files(outputs, inputs=(), overwrite: bool = False) -> list:
    """Refuse, before any work and without creating anything, output files that would replace an
    input, are folders, cannot be written (a read-only place, a parent that is a file), or exist
    (unless ``overwrite``; every existing one is named). Returns the outputs as paths."""
    from pathlib import Path

    from ferkit.core.errors import OutputExistsError
    from ferkit.core.outputs import check_writable

    outputs = [Path(o) for o in outputs]
    inputs = [i for i in inputs if i]
    for out in outputs:
        check_writable(out, overwrite=True, inputs=inputs)
    existing = [str(o) for o in outputs if o.exists()]
    if existing and not overwrite:
        one = len(existing) == 1
        raise OutputExistsError(f"{', '.join(existing)}: exist{'s' if one else ''}; "
                                f"use --overwrite to replace {'it' if one else 'them'}")
    return outputs


def add_card_arguments(p: argparse.ArgumentParser, from_checkpoint: bool = False) -> None:
    """Flags that also write a model card (JSON + Markdown) beside the model a command writes."""
    g = p.add_argument_group("model card")
    if from_checkpoint:
        g.add_argument("--card-checkpoint", metavar="CKPT", help="the checkpoint the model came from (the card's "
                       "recipe and training record); needed with --card-data")
    g.add_argument("--card-data", metavar="PATH", help="also write a model card (JSON + Markdown beside --out) with "
                   "metrics on this dataset's val and test splits and the model's speed here")
    g.add_argument("--card-cross", metavar="PATH", help="dataset evaluated whole for the card's cross-dataset results")
    g.add_argument("--card-command", default="", help="the training command, recorded in the card")
    g.add_argument("--card-config", default="", help="the training config file, recorded in the card")


def check_card_sources(args: argparse.Namespace) -> None:
    """Before any work: the files a model card needs exist (``--card-checkpoint``, ``--card-config``) and its
    datasets (``--card-data``, ``--card-cross``) load, so a bad one does not leave a model without its card."""
    from pathlib import Path

    from ferkit.core.errors import MissingInputError
    from ferkit.data import load_dataset

    for flag in ("data", "cross", "checkpoint", "config"):
        value = getattr(args, f"card_{flag}", None)
        if value and not Path(value).exists():
            raise MissingInputError(f"--card-{flag} {value}: no such file or folder")
    for flag in ("data", "cross"):
        value = getattr(args, f"card_{flag}", None)
        if value:
            load_dataset(value, progress=False)  # a clear error for a dataset it cannot read


def card_outputs(out):
    """The model card files written beside ``out`` (as ferkit.export.model_card.card_paths)."""
    from pathlib import Path

    stem = Path(out).with_suffix("")
    return stem.with_suffix(".json"), stem.with_suffix(".md")


def write_card(args: argparse.Namespace, checkpoint, model) -> None:
    """Evaluate ``model`` for its card (``args.card_*``) and write the card beside it."""
    from pathlib import Path

    from ferkit.export.model_card import card_markdown, make_model_card, write_model_card

    card = make_model_card(checkpoint, model, args.card_data, args.card_cross, args.card_command, args.card_config)
    js, md = write_model_card(card, Path(model).with_suffix(""))
    print(card_markdown(card))
    print(f"wrote {js} and {md}")
