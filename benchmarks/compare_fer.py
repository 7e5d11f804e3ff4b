"""Speed of the `fer` package (25.10.3) on the same images as benchmarks/analyze_throughput.py, for
comparison. `fer` pulls TensorFlow and its own OpenCV, so run this in a separate environment:

    python -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install fer==25.10.3
    /tmp/fervenv/bin/python benchmarks/compare_fer.py --seconds 5
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SAMPLE = Path(__file__).resolve().parent.parent / "src" / "ferkit" / "samples" / "astronaut.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from fer.fer import FER  # the README's `from fer import FER` fails in 25.10.3

    detector = FER(mtcnn=False)
    img = cv2.imread(str(SAMPLE))
    small = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
    wide = np.full((720, 1280, 3), 60, np.uint8)
    wide[:, 280:1000] = cv2.resize(img, (720, 720), interpolation=cv2.INTER_LINEAR)
    print("| package | 256x256 images/s | 1280x720 images/s | faces found (256 / 720) |")
    print("|---|---|---|---|")
    cells, found = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, image in (("256", small), ("720", wide)):
            path = str(Path(tmp) / f"{name}.jpg")
            cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 92])

            def run(p=path):
                return detector.detect_emotions(cv2.imread(p))

            found.append(str(len(run())))
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < args.seconds:
                run()
                n += 1
            cells.append(f"{n / (time.perf_counter() - t):.0f}")
    print(f"| fer 25.10.3 (Haar) | {' | '.join(cells)} | {' / '.join(found)} |")


if __name__ == "__main__":
    main()
