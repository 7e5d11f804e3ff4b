"""End-to-end video analysis speed: frames/s for `Recognizer.analyze_video` (decode, detect,
track, align, classify, smooth) on generated 30 fps H.264 videos at 640x480 and 1280x720 with one
and three moving faces, sampling every frame, with the detector on every frame and on every 3rd.
Prints a Markdown table; "x real time" is frames/s divided by 30.

    python benchmarks/video_throughput.py [--seconds 6] [--detect-every 1 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ferkit import Recognizer, VideoOptions
from ferkit.video.synthetic import Sprite, make_test_video, sample_face


def make_videos(folder: Path, seconds: float) -> dict[str, Path]:
    videos = {}
    for width, height in ((640, 480), (1280, 720)):
        side = height // 3  # heads a third of the frame high (faces ~21%)
        for faces in (1, 3):
            sprites = []
            for i in range(faces):
                x0 = 20 + i * (width - side - 40) // max(faces - 1, 1) if faces > 1 else width // 4
                y = 30 + (i % 2) * (height - side - 60)
                sprites.append(Sprite(sample_face(side), (x0, y), (x0 + (30 if i % 2 else -30), y + 20)))
            path = folder / f"{width}x{height}_{faces}.mp4"
            make_test_video(path, sprites, width, height, 30, seconds)
            videos[f"{width}x{height}, {faces} face{'s' if faces > 1 else ''}"] = path
    return videos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each generated video")
    ap.add_argument("--detect-every", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--threads", type=int, default=1, help="classifier threads")
    args = ap.parse_args()
    rec = Recognizer(threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_videos(Path(tmp), args.seconds)
        print("| video | detector every | frames/s | x real time (30 fps) | faces per frame |")
        print("|---|---|---|---|---|")
        for name, path in videos.items():
            for k in args.detect_every:
                opts = VideoOptions(detect_every=k)
                start = time.perf_counter()
                frames = faces = 0
                for result in rec.analyze_video(path, opts):
                    frames += 1
                    faces += len(result.faces)
                fps = frames / (time.perf_counter() - start)
                print(f"| {name} | {k} | {fps:.0f} | {fps / 30:.1f} | {faces / frames:.2f} |", flush=True)


if __name__ == "__main__":
    main()
