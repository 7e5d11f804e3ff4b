"""ferkit webcam: live emotion recognition from a camera or a stream, through the same frame loop
and with the same output flags as ``ferkit analyze VIDEO``."""

from __future__ import annotations

import argparse
import json
import sys

from ferkit.cli.common import (
    add_common_output_arguments,
    add_recognizer_arguments,
    add_video_arguments,
    recognizer_options,
    video_options,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "webcam", help="live analysis of a camera or stream",
        description="Analyse a live source frame by frame (faces tracked across frames) and show and/or record "
        "the annotated stream. SOURCE is a device index (default 0), a stream URL or a video file played as if "
        "live. Stop with Ctrl-C (or q in the window); what was done is kept.",
    )
    p.add_argument("source", nargs="?", default="0")
    p.add_argument("--out", help="per-frame results (.jsonl, .json, .csv, .parquet), with NAME.summary.json and "
                   "NAME.timeline.png beside")
    p.add_argument("--annotate", metavar="VIDEO", help="record the annotated stream to this video file "
                   "(.mp4, .mkv, .webm, .avi)")
    p.add_argument("--show", action="store_true", help="show a window (needs an OpenCV build with a GUI)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many analysed frames")
    add_common_output_arguments(p, json_help="print the summary as JSON")
    add_recognizer_arguments(p)
    add_video_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.core.errors import OptionError
    from ferkit.infer.recognizer import Recognizer
    from ferkit.video.loop import VideoInterrupted, analyze_source
    from ferkit.video.outputs import plan_outputs

    if args.max_frames is not None and args.max_frames < 1:
        raise OptionError(f"--max-frames must be >= 1, got {args.max_frames}")
    if not (args.out or args.annotate or args.show):
        print("note: neither --show, --annotate nor --out given; printing a summary at the end", file=sys.stderr)
    outputs = plan_outputs([args.source], args.out, None, args.annotate)[0]
    code = 0
    with Recognizer(recognizer_options(args)) as recognizer:
        try:
            summary = analyze_source(recognizer, args.source, outputs, video_options(args), overwrite=args.overwrite,
                                     progress=not args.no_progress, show=args.show, max_frames=args.max_frames,
                                     resumable=False)
        except VideoInterrupted as stop:
            summary, code = stop.summary, 130
    shown = {k: summary[k] for k in ("video", "frames_sampled", "tracks", "main_track", "overall")}
    print(json.dumps(shown if not args.json else summary, indent=None if args.json else 1))
    return code
