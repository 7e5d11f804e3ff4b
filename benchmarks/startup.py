"""Start-up cost of the command line: wall time of `ferkit --version`, `ferkit analyze one.jpg` and,
as the floor any OpenCV + ONNX Runtime program pays, `python -c "import cv2, onnxruntime"`. The
commands run interleaved, several rounds, so a noisy machine affects them alike; medians printed.

    python benchmarks/startup.py --rounds 7
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ferkit

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    exe = shutil.which("ferkit") or str(Path(sys.executable).parent / "ferkit")
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "one.jpg"
        import cv2

        cv2.imwrite(str(photo), cv2.imread(str(SAMPLE)))
        commands = {
            "ferkit --version": [exe, "--version"],
            "ferkit analyze one.jpg": [exe, "analyze", str(photo), "--no-progress"],
            'python -c "import cv2, onnxruntime" (floor)': [sys.executable, "-c", "import cv2, onnxruntime"],
            'python -c "import torch" (for scale)': [sys.executable, "-c", "import torch"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times[name].append(time.perf_counter() - start)
    print(f"{'command':<48} {'median s':>9} {'min s':>7}   ({args.rounds} rounds, interleaved)")
    for name, ts in times.items():
        print(f"{name:<48} {statistics.median(ts):>9.3f} {min(ts):>7.3f}")


if __name__ == "__main__":
    main()
