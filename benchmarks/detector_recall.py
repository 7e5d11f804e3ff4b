"""Recall and speed of each face detector on real faces: FER2013 PublicTest and CK+ faces (48x48)
enlarged to 160 px on a 320x320 canvas, and harder variants: rotated 30 degrees, small (48 px on a
480x360 canvas), dark (gamma 3 plus noise). A face counts as found when a detection overlaps it
with IoU >= 0.3. Prints a Markdown table.

    python benchmarks/detector_recall.py --data ../shared/datasets --n 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from ferkit.data import load_dataset
from ferkit.faces import create_detector, iou_matrix, list_detectors


def canvas(face: np.ndarray, variant: str, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    fill = int(np.median(face))
    if variant == "small":
        img = np.full((360, 480), fill, np.uint8)
        x, y = rng.integers(0, 480 - 48), rng.integers(0, 360 - 48)
        img[y : y + 48, x : x + 48] = face
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), (x, y, 48, 48)
    big = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    img = cv2.copyMakeBorder(big, 80, 80, 80, 80, cv2.BORDER_CONSTANT, value=fill)
    box = (80, 80, 160, 160)
    if variant == "rot30":
        m = cv2.getRotationMatrix2D((160, 160), 30, 1.0)
        img = cv2.warpAffine(img, m, (320, 320), borderValue=fill)
    elif variant == "dark":
        img = (255 * (img / 255.0) ** 3).astype(np.float32)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), box


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/datasets", help="folder with fer2013.npz and ckplus.npz")
    ap.add_argument("--n", type=int, default=300, help="faces per dataset")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    fer = load_dataset(Path(args.data) / "fer2013.npz").select_split("val")
    ck = load_dataset(Path(args.data) / "ckplus.npz")
    sets = {name: ds.images[rng.choice(len(ds), min(args.n, len(ds)), replace=False)]
            for name, ds in (("FER2013", fer), ("CK+", ck))}
    variants = ("plain", "rot30", "small", "dark")
    cols = [f"{s} {v}" for s in sets for v in variants]
    print("| detector | " + " | ".join(cols) + " | ms per 320x320 image |")
    print("|---|" + "---|" * (len(cols) + 1))
    for name in list_detectors(available_only=True):
        det = create_detector(name)
        cells, seconds, images = [], 0.0, 0
        for faces in sets.values():
            for variant in variants:
                vr = np.random.default_rng(1)
                found = 0
                for face in faces:
                    img, box = canvas(face, variant, vr)
                    t = time.perf_counter()
                    dets = det.detect(img)
                    if variant == "plain":
                        seconds += time.perf_counter() - t
                        images += 1
                    if dets and iou_matrix([d.box for d in dets], [box]).max() >= 0.3:
                        found += 1
                cells.append(f"{found / len(faces):.1%}")
        print(f"| {name} | " + " | ".join(cells) + f" | {1000 * seconds / images:.1f} |", flush=True)


if __name__ == "__main__":
    main()
