"""Harvest throughput: seconds of video harvested per second of wall time, on a generated 720p 30 fps clip
with one face moving (the bundled sample face), with harvest's default settings (2 frames/s sampled,
BlazeFace, the bundled model), the whole harvest included (reading, detection, labelling, rules, duplicate
removal, writing, report).

    python benchmarks/harvest_throughput.py [--seconds 30] [--fps 2 4]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ferkit.harvest import HarvestOptions, harvest
from ferkit.video.synthetic import Sprite, make_test_video, sample_face


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the generated clip")
    ap.add_argument("--fps", type=float, nargs="+", default=[2.0], help="harvest sampling rates to time")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ferkit_harvest_bench_"))
    try:
        clip = tmp / "clip720.mp4"
        make_test_video(clip, [Sprite(sample_face(260), (80, 120), (900, 380))], width=1280, height=720, fps=30.0,
                        seconds=args.seconds)
        print(f"clip: 1280x720, 30 fps, {args.seconds:.0f} s, one face (~160 px)")
        print("| sampling fps | wall s | video s per wall s | faces seen | kept |")
        print("|---|---|---|---|---|")
        for fps in args.fps:
            out = tmp / f"out_{fps}"
            start = time.perf_counter()
            summary = harvest([clip], out, HarvestOptions(fps=fps), progress=False)
            wall = time.perf_counter() - start
            t = summary["report"]["totals"]
            print(f"| {fps:g} | {wall:.1f} | {args.seconds / wall:.1f} | {t['seen']} | {t['kept']} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
