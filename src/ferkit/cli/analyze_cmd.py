"""ferkit analyze: every face in images and videos, with its box and emotion probabilities."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ferkit.cli.common import (
    add_common_output_arguments,
    add_recognizer_arguments,
    add_video_arguments,
    recognizer_options,
    video_options,
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
    p.add_argument("--out", help="image results: .json, .jsonl, .csv or .parquet (CSV/Parquet: one row per face); "
                   "for a single video, its per-frame results (same formats) with NAME.summary.json and "
                   "NAME.timeline.png beside")
    p.add_argument("--out-dir", help="per-video outputs for any number of videos: NAME.frames.FORMAT, "
                   "NAME.summary.json, NAME.timeline.png")
    p.add_argument("--format", default=None, choices=["jsonl", "json", "csv", "parquet"],
                   help="per-frame results format in --out-dir (default jsonl; with --out, its suffix says)")
    p.add_argument("--annotate", metavar="PATH", help="annotated copies: a folder (images, and NAME.annotated.mp4 "
                   "per video) or, for one video, a video file such as out.mp4")
    p.add_argument("--resume", action="store_true", help="continue an interrupted video run (same input, same "
                   "options) exactly where it stopped")
    add_common_output_arguments(p, json_help="print each result as a JSON line on stdout")
    add_recognizer_arguments(p)
    add_video_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ferkit.core.errors import OptionError
    from ferkit.core.images import IMAGE_SUFFIXES
    from ferkit.core.video_file import is_video
    from ferkit.infer.batch import expand_inputs
    from ferkit.infer.recognizer import Recognizer

    video_options(args)  # checked even for images: a wrong value is an error wherever it applies
    if args.out and args.out_dir:
        raise OptionError("give --out (one video, or images) or --out-dir (any number of videos), not both")
    everything = expand_inputs(args.paths, video=True)
    kinds = {i.path: (not i.error and is_video(i.path, IMAGE_SUFFIXES)) for i in everything}
    videos = [str(i.path) for i in everything if kinds[i.path]]
    items = [i for i in everything if not kinds[i.path]]
    if not videos:
        unused = [f for f, on in (("--resume", args.resume), ("--out-dir", args.out_dir),
                                  ("--format", args.format)) if on]
        if unused:
            print(f"note: {', '.join(unused)} apply to videos only; no video was given", file=sys.stderr)
    if items and args.out and videos:
        raise OptionError("with videos and images together, put video results in --out-dir")
    inputs = tuple(i.path for i in everything if not i.error)
    if items and args.out:
        from ferkit.core.outputs import check_writable

        check_writable(args.out, overwrite=args.overwrite, inputs=inputs)  # before any work
    if args.annotate and not is_video(args.annotate):  # a folder: never inside an input folder
        from ferkit.infer.batch import check_outside

        check_outside(args.annotate, [a for a in args.paths if Path(a).is_dir()])
    with Recognizer(recognizer_options(args)) as recognizer:
        failed_videos, code = 0, 0
        if videos:
            failed_videos, interrupted = run_videos(args, recognizer, videos, alone=not items, inputs=inputs)
            if interrupted:
                return 130
        if items:
            code = run_images(args, recognizer, items)
    return code if code == 130 else (1 if failed_videos or code else 0)


def _summary_line(record: dict) -> str:
    if not record["faces"]:
        return f"{record['path']}: no face found"
    faces = "; ".join(f"{f['label']} {f['emotions'][f['label']]:.2f} at {f['box']}" for f in record["faces"])
    return f"{record['path']}: {len(record['faces'])} face(s): {faces}"


def run_images(args: argparse.Namespace, recognizer, items) -> int:
    from collections import Counter

    from tqdm import tqdm

    from ferkit.infer.batch import Annotator, analyze_items
    from ferkit.infer.tables import ResultWriter

    folders = [a for a in args.paths if Path(a).is_dir()]
    annotator = (Annotator(args.annotate, [i.path for i in items], args.overwrite, input_folders=folders)
                 if args.annotate else None)
    writer = ResultWriter(args.out, "image", recognizer.classes, overwrite=args.overwrite) if args.out else None
    counts: Counter = Counter()
    bar = tqdm(total=len(items), unit="img", disable=args.no_progress or len(items) < 10, file=sys.stderr)
    interrupted = False
    try:
        for result, note in analyze_items(recognizer, items, annotator):
            record = result.to_dict()
            counts[record["status"]] += 1
            counts["faces"] += len(record["faces"])
            if writer:
                writer.write(record)
            if record["status"] == "error":
                tqdm.write(f"error: {record['error']}", file=sys.stderr)
            if note:
                tqdm.write(f"note: {note}", file=sys.stderr)
            if args.json:
                tqdm.write(json.dumps(record), file=sys.stdout)
            elif not writer and record["status"] != "error":  # errors are said once, on stderr
                tqdm.write(_summary_line(record), file=sys.stdout)
            bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        if writer:
            writer.close()
    done = sum(counts[s] for s in ("ok", "no_face", "error"))
    summary = {"images": len(items), "analyzed": done, "faces": counts["faces"], "no_face": counts["no_face"],
               "errors": counts["error"]}
    where = f" -> {args.out}" if args.out else ""
    if interrupted:
        print(f"interrupted after {done} of {len(items)} images {json.dumps(summary)}{where}", file=sys.stderr)
        return 130
    print(f"analyzed {json.dumps(summary)}{where}", file=sys.stderr)
    return 1 if counts["error"] else 0


def summary_line(summary: dict) -> str:
    overall = summary.get("overall")
    head = f"{summary['video']}: {summary['frames_sampled']} frames, {summary['tracks']} track(s)"
    if summary.get("skipped_frames"):
        head += f", {summary['skipped_frames']} corrupt frame(s) skipped"
    if summary.get("truncated") or (summary.get("complete") is False and not summary.get("stopped_early")):
        head += f" (incomplete: {summary.get('frames_read')} of {summary.get('frames_declared')} frames read)"
    if not overall:
        return head + ", no face found"
    return (head + f"; dominant {overall['dominant_by_mean']} (mean) / {overall['dominant_by_vote']} (vote), "
            f"sentiment {overall['sentiment_by_mean']}")


def run_videos(args: argparse.Namespace, recognizer, videos: list[str], alone: bool,
               inputs: tuple = ()) -> tuple[int, bool]:
    """Analyse each video; returns (number failed, interrupted)."""
    from ferkit.core.errors import InputError, MissingInputError
    from ferkit.video.loop import VideoInterrupted, analyze_source
    from ferkit.video.outputs import plan_outputs

    plans = plan_outputs(videos, args.out, args.out_dir, args.annotate, args.format, alone)
    options = video_options(args)
    for outputs in plans:  # every output checked before the first video starts
        outputs.check(None, args.overwrite, args.resume, inputs)
    failed = 0
    for video, outputs in zip(videos, plans):
        try:
            summary = analyze_source(recognizer, video, outputs, options, resume=args.resume,
                                     overwrite=args.overwrite, progress=not args.no_progress, inputs=inputs)
        except VideoInterrupted as stop:
            print(summary_line(stop.summary) + " (interrupted; results so far are saved)", file=sys.stderr)
            return failed, True
        except (InputError, MissingInputError) as exc:  # a ResumeError stops the batch: exit 2
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(summary))
        elif outputs.summary is None:
            print(summary_line(summary))
        else:
            print(summary_line(summary) + f" -> {outputs.summary}", file=sys.stderr)
    return failed, False
