"""End-to-end image analysis speed per face detector: images/s for `Recognizer.analyze_image` on
JPEG files (decode, detect, align, classify) at 256x256 and 1280x720, one face each, and faces/s
for classification alone. Prints a Markdown table.

    python benchmarks/analyze_throughput.py [--seconds 5] [--detectors blazeface haar]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import ferkit
from ferkit import Recognizer
from ferkit.faces import list_detectors

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


def test_images(folder: Path) -> dict[str, Path]:
    """The sample photo at 256x256, and centred at full height on a 1280x720 canvas (face ~125 px)."""
    img = cv2.imread(str(SAMPLE))
    small = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
    wide = np.full((720, 1280, 3), 60, np.uint8)
    wide[:, 280:1000] = cv2.resize(img, (720, 720), interpolation=cv2.INTER_LINEAR)
    paths = {}
    for name, image in (("256x256", small), ("1280x720", wide)):
        paths[name] = folder / f"{name}.jpg"
        cv2.imwrite(str(paths[name]), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


def rate(fn, seconds: float) -> tuple[float, int]:
    result = fn()
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t), len(result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--detectors", nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads of the classifier and the detector (0: its default)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = test_images(Path(tmp))
        print("| detector | 256x256 images/s | 1280x720 images/s | faces found (256 / 720) |")
        print("|---|---|---|---|")
        for name in args.detectors or list_detectors(available_only=True):
            rec = Recognizer(detector=name, threads=args.threads)
            cells, found = [], []
            for path in paths.values():
                r, n = rate(lambda p=path: rec.analyze_image(p), args.seconds)
                cells.append(f"{r:.0f}")
                found.append(str(n))
            print(f"| {name} | {' | '.join(cells)} | {' / '.join(found)} |", flush=True)
        rec = Recognizer(threads=args.threads)
        faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
        clf = rec.pipeline.classifier
        one, _ = rate(lambda: clf.predict_proba(faces[:1]), args.seconds)
        batch, _ = rate(lambda: clf.predict_proba(faces), args.seconds)
        print(f"\nclassification alone (ONNX Runtime): {one:.0f} faces/s one at a time, {batch * 64:.0f} faces/s in batches of 64")


if __name__ == "__main__":
    main()
