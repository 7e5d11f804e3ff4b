"""Whole-process video analysis speed: `ferkit analyze VIDEO --out-dir DIR` (start-up, decoding, faces,
tracking, classifying, writing the per-frame rows, summary and timeline) on generated 30 fps H.264
videos, with the default detection schedule ("auto") and with the detector on every frame, beside
the `fer` package's own video loop on the same files in the same run (each tool's runs interleaved,
so a busy moment hits both). Also prints how closely the default schedule's rows match the
detector on every frame (faces found, box IoU, raw-probability difference, same top emotion).

    python benchmarks/video_throughput.py [--seconds 10] [--fer-python /tmp/fervenv/bin/python]

fer runs in its own environment (see benchmarks/fer_video_loop.py); without --fer-python its rows
are left out. "x real time" is frames per wall-clock second of the whole process divided by 30.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ferkit.infer.tables import read_records
from ferkit.video.agreement import compare_results
from ferkit.video.synthetic import Sprite, make_test_video, sample_face

HERE = Path(__file__).resolve().parent
VIDEOS = [(640, 480, 1), (1280, 720, 1), (1280, 720, 3)]


def make_videos(folder: Path, seconds: float) -> dict[str, Path]:
    """Heads a third of the frame high, drifting as a talking head does; three faces side by side."""
    videos = {}
    for width, height, faces in VIDEOS:
        side = height // 3
        sprites = []
        for i in range(faces):
            x0 = width // 3 if faces == 1 else 20 + i * (width - side - 40) // (faces - 1)
            y = height // 4 + (i % 2) * height // 6
            sprites.append(Sprite(sample_face(side), (x0, y), (x0 + (40 if i % 2 else -40), y + 25)))
        path = folder / f"{width}x{height}_{faces}face.mp4"
        make_test_video(path, sprites, width, height, 30, seconds)
        videos[f"{width}x{height}, {faces} face{'s' if faces > 1 else ''}"] = path
    return videos


def run_ferkit(video: Path, out: Path, extra: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ferkit", "analyze", str(video), "--out-dir", str(out), "--no-progress",
                    "--overwrite", *extra], check=True, capture_output=True)
    wall = time.perf_counter() - start
    summary = json.loads((out / f"{video.stem}.summary.json").read_text())
    return wall, int(summary["frames_sampled"])


def run_fer(python: str, video: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([python, str(HERE / "fer_video_loop.py"), str(video)], check=True, capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.perf_counter() - start
    return wall, int(json.loads(done.stdout.strip().splitlines()[-1])["frames"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each generated video")
    ap.add_argument("--fer-python", default=None, help="python of an environment with fer==25.10.3")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = make_videos(tmp, args.seconds)
        print("| video | tool | detection | wall s | frames/s | x real time (30 fps) |")
        print("|---|---|---|---|---|---|")
        agreements = {}
        for name, path in videos.items():
            setups = [("ferkit", "auto (default)", ["--detect-every", "auto"]),
                      ("ferkit", "every frame", ["--detect-every", "1"])]
            rows = {}
            for tool, label, extra in setups:
                out = tmp / f"{path.stem}-{extra[-1]}"
                wall, frames = run_ferkit(path, out, extra)
                rows[label] = read_records(out / f"{path.stem}.frames.jsonl")
                print(f"| {name} | {tool} | {label} | {wall:.1f} | {frames / wall:.0f} | {frames / wall / 30:.1f} |",
                      flush=True)
            if args.fer_python:
                wall, frames = run_fer(args.fer_python, path)
                print(f"| {name} | fer 25.10.3 | Haar, every frame | {wall:.1f} | {frames / wall:.0f} | "
                      f"{frames / wall / 30:.1f} |", flush=True)
            agreements[name] = compare_results(rows["every frame"], rows["auto (default)"])
        print("\nThe default schedule against the detector on every frame (ferkit.video.agreement):\n")
        print("| video | faces found | box IoU mean / min | raw prob. diff mean / max | same top emotion |")
        print("|---|---|---|---|---|")
        for name, a in agreements.items():
            print(f"| {name} | {a.found:.1%} | {a.box_iou_mean:.3f} / {a.box_iou_min:.3f} | "
                  f"{a.prob_mae:.4f} / {a.prob_max:.3f} | {a.same_label:.1%} |")


if __name__ == "__main__":
    main()
