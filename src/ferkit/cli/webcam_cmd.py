"""ferkit webcam: live emotion recognition from a camera or a stream."""

from __future__ import annotations

import argparse
import json
import sys

from ferkit.cli.analyze_cmd import add_recognizer_arguments, recognizer_options
from ferkit.infer import Recognizer
from ferkit.video.live import run_live


def add_parser(sub) -> None:
    p = sub.add_parser(
        "webcam", help="live analysis of a camera or stream",
        description="Analyse a live source frame by frame (faces tracked across frames) and show and/or record "
        "the annotated stream. SOURCE is a device index (default 0), a stream URL or a video file. Stop with "
        "Ctrl-C (or q in the window).",
    )
    p.add_argument("source", nargs="?", default="0")
    p.add_argument("--record", help="write the annotated stream to this video file (.mp4, .mkv, .webm, .avi)")
    p.add_argument("--rows", help="write per-frame rows (.jsonl, .csv, .parquet)")
    p.add_argument("--show", action="store_true", help="show a window (needs an OpenCV build with a GUI)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--overwrite", action="store_true")
    add_recognizer_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.record or args.rows or args.show):
        print("note: neither --show, --record nor --rows given; printing a summary at the end", file=sys.stderr)
    summary = run_live(Recognizer(recognizer_options(args)), args.source, args.record, args.rows, args.show,
                       args.max_frames, args.overwrite)
    print(json.dumps({k: summary[k] for k in ("source", "frames", "tracks", "overall")}, indent=1))
    return 0
