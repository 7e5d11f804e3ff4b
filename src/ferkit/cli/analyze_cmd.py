"""ferkit analyze: every face in images, with its box and emotion probabilities."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from tqdm import tqdm

from ferkit.cli.analyze_video import add_video_arguments, run_videos
from ferkit.faces import list_detectors
from ferkit.infer import TTA_MODES, Recognizer, RecognizerOptions
from ferkit.infer.batch import Annotator, analyze_items, expand_inputs
from ferkit.infer.writers import ResultWriter
from ferkit.core.labels import SENTIMENT_MAPS
from ferkit.video import is_video


def add_recognizer_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a Recognizer."""
    p.add_argument("--model", help="ONNX model or checkpoint (default: the bundled model)")
    p.add_argument("--detector", default="blazeface", choices=list_detectors())
    p.add_argument("--threshold", type=float, default=0.5, help="minimum face score (default 0.5)")
    p.add_argument("--min-face", type=int, default=20, help="smallest face side in pixels (default 20)")
    p.add_argument("--max-faces", type=int, default=None, help="keep at most this many faces per image")
    p.add_argument("--upsample", type=int, default=0, help="extra effort for small faces (0, 1, 2)")
    p.add_argument("--no-align", action="store_true", help="do not rotate faces to level the eyes")
    p.add_argument("--tta", default="none", choices=TTA_MODES,
                   help="test-time augmentation (flip: +1.1 points on FER2013 PrivateTest, about half the classifier speed)")
    p.add_argument("--sentiment-map", default="default", choices=sorted(SENTIMENT_MAPS))
    p.add_argument("--threads", type=int, default=0, help="classifier threads (0: ONNX Runtime's default)")


def recognizer_options(args: argparse.Namespace) -> RecognizerOptions:
    return RecognizerOptions(
        model=args.model, detector=args.detector, score_threshold=args.threshold, min_face_size=args.min_face,
        max_faces=args.max_faces, upsample=args.upsample, align=not args.no_align, tta=args.tta,
        threads=args.threads, sentiment_map=args.sentiment_map,
    )


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyze", help="faces and emotions in images and videos",
        description="Detect every face in images, videos, folders (searched recursively) and globs, and give "
        "each its box and seven emotion probabilities; in videos, faces are tracked over time. Exit code 0: "
        "every input was read; 1: some could not be (each is reported with its reason); 2: bad arguments; "
        "130: interrupted (results so far are kept).",
    )
    p.add_argument("paths", nargs="+", help="image or video files, folders or glob patterns")
    p.add_argument("--out", help="image results: .json, .jsonl or .csv (one row per face); for a single video, "
                   "its per-frame rows (.jsonl, .csv, .parquet) with NAME.summary.json and NAME.timeline.png beside")
    p.add_argument("--annotate", metavar="PATH", help="annotated copies: a folder (images, and NAME.annotated.mp4 "
                   "per video) or, for one video, a video file such as out.mp4")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    p.add_argument("--json", action="store_true", help="print video summaries as JSON")
    p.add_argument("--no-progress", action="store_true")
    add_recognizer_arguments(p)
    add_video_arguments(p)
    p.set_defaults(func=run)


def _summary_line(record: dict) -> str:
    if record["status"] == "error":
        return f"{record['path']}: error: {record['error']}"
    if not record["faces"]:
        return f"{record['path']}: no face found"
    faces = "; ".join(
        f"{f['label']} {f['emotions'][f['label']]:.2f} at {f['box']}" for f in record["faces"]
    )
    return f"{record['path']}: {len(record['faces'])} face(s): {faces}"


def run(args: argparse.Namespace) -> int:
    everything = expand_inputs(args.paths, video=True)
    videos = [i.path for i in everything if not i.error and is_video(i.path)]
    items = [i for i in everything if i.error or not is_video(i.path)]
    recognizer = Recognizer(recognizer_options(args))
    failed_videos = 0
    if videos:
        failed_videos, interrupted = run_videos(args, recognizer, videos, has_images=bool(items))
        if interrupted:
            return 130
        if not items:
            return 1 if failed_videos else 0
    code = run_images(args, recognizer, items)
    return 1 if failed_videos or code else 0


def run_images(args: argparse.Namespace, recognizer, items) -> int:
    writer = ResultWriter(args.out, overwrite=args.overwrite) if args.out else None
    annotator = Annotator(args.annotate, [i.path for i in items], args.overwrite) if args.annotate else None
    counts: Counter = Counter()
    bar = tqdm(total=len(items), unit="img", disable=args.no_progress or len(items) < 10, file=sys.stderr)
    try:
        for record, note in analyze_items(recognizer, items, annotator):
            counts[record["status"]] += 1
            counts["faces"] += len(record["faces"])
            if writer:
                writer.write(record)
            if record["status"] == "error":
                tqdm.write(f"error: {record['error']}", file=sys.stderr)
            if note:
                tqdm.write(f"note: {note}", file=sys.stderr)
            if not writer:
                tqdm.write(_summary_line(record), file=sys.stdout)
            bar.update()
    finally:
        bar.close()
        if writer:
            writer.close()
    summary = {"images": len(items), "faces": counts["faces"], "no_face": counts["no_face"], "errors": counts["error"]}
    print(f"analyzed {json.dumps(summary)}" + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    return 1 if counts["error"] else 0
