"""The video half of ``ferkit analyze``: options, where each video's outputs go, and the loop."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ferkit.video import VIDEO_SUFFIXES, VideoOptions, VideoReadError
from ferkit.video.run import VideoInterrupted, VideoOutputs, analyze_video_file


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("videos")
    g.add_argument("--every", type=int, default=1, help="analyse every Nth frame (default: every frame)")
    g.add_argument("--fps", type=float, default=None, help="analyse about this many frames per second")
    g.add_argument("--detect-every", type=int, default=1,
                   help="run the face detector every K analysed frames, tracking faces in between")
    g.add_argument("--smooth", type=float, default=0.5, metavar="SECONDS",
                   help="half-life of the per-track smoothing of probabilities (0: off; raw values are kept)")
    g.add_argument("--out-dir", help="per-video outputs: NAME.frames.FORMAT, NAME.summary.json, NAME.timeline.png")
    g.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "parquet"], help="per-frame rows format")
    g.add_argument("--resume", action="store_true", help="continue an interrupted run from its per-frame rows")


def video_options(args: argparse.Namespace) -> VideoOptions:
    return VideoOptions(every=args.every, fps=args.fps, detect_every=args.detect_every,
                        smoothing_half_life_s=args.smooth)


def plan_outputs(args: argparse.Namespace, videos: list[Path], has_images: bool) -> list[VideoOutputs]:
    """Outputs per video: in --out-dir; or next to --out for a single video; else none (the
    summary is printed)."""
    annotate = args.annotate
    single_file = annotate and Path(annotate).suffix.lower() in VIDEO_SUFFIXES
    if single_file and len(videos) != 1:
        raise ValueError("--annotate FILE.mp4 takes one video; give a folder for several")
    plans, used = [], set()
    for video in videos:
        stem = video.stem
        n = 2
        while stem in used:
            stem, n = f"{video.stem}_{n}", n + 1
        used.add(stem)
        annotated = Path(annotate) if single_file else (Path(annotate) / f"{stem}.annotated.mp4" if annotate else None)
        if args.out_dir:
            out = VideoOutputs.in_folder(args.out_dir, stem, args.format)
            out.annotated = annotated
        elif args.out and not has_images and len(videos) == 1:
            out = VideoOutputs.beside(args.out, annotated)
        elif args.out:
            raise ValueError("with several videos, or videos and images together, put video results in --out-dir")
        else:
            out = VideoOutputs(annotated=annotated)
        plans.append(out)
    return plans


def summary_line(summary: dict) -> str:
    overall = summary.get("overall")
    head = f"{summary['video']}: {summary['frames_sampled']} frames, {summary['tracks']} track(s)"
    if summary.get("skipped_frames"):
        head += f", {summary['skipped_frames']} corrupt frame(s) skipped"
    if not overall:
        return head + ", no face found"
    return (head + f"; dominant {overall['dominant_by_mean']} (mean) / {overall['dominant_by_vote']} (vote), "
            f"sentiment {overall['sentiment_by_mean']}")


def run_videos(args: argparse.Namespace, recognizer, videos: list[Path], has_images: bool) -> tuple[int, bool]:
    """Analyse each video; returns (number failed, interrupted)."""
    plans = plan_outputs(args, videos, has_images)
    options = video_options(args)
    failed = 0
    for video, outputs in zip(videos, plans):
        try:
            summary = analyze_video_file(recognizer, video, outputs, options, resume=args.resume,
                                         overwrite=args.overwrite, progress=not args.no_progress)
        except VideoInterrupted as stop:
            print(summary_line(stop.summary) + " (interrupted; results so far are saved)", file=sys.stderr)
            return failed, True
        except (FileNotFoundError, VideoReadError, FileExistsError, ValueError) as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        if outputs.summary is None:
            print(json.dumps(summary) if args.json else summary_line(summary))
        else:
            print(summary_line(summary) + f" -> {outputs.summary}", file=sys.stderr)
    return failed, False
