"""Measure, per face detector, how its boxes relate to FER2013's framing of a face.

FER2013 faces (PublicTest) are enlarged and placed on a plain canvas; each detector runs on the
canvas, and the crop that reproduces the original 48x48 image is compared with the detector's box:
``scale`` = crop side / box side, ``shift`` = (crop centre - box centre) / box side. Medians go into
each detector's registration, ``register_detector(name, ..., crop_scale=..., crop_shift=...)``
(read back as ``detector_entry(name).crop_scale`` and ``.crop_shift``). It also reports how often
the classifier's label through detect -> align matches its label on the raw image.

    python benchmarks/calibrate_crop.py --data ../shared/datasets/fer2013.npz --n 500
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from ferkit.data import load_dataset
from ferkit.faces import DetectorOptions, create_detector, list_detectors
from ferkit.faces.align import align_face
from ferkit.faces.detection import iou_matrix
from ferkit.infer.classifier import EmotionClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--face", type=int, default=192, help="side of the enlarged face on the canvas")
    parser.add_argument("--detectors", nargs="*", default=None)
    args = parser.parse_args()
    ds = load_dataset(args.data).select_split("val")
    idx = np.random.default_rng(0).choice(len(ds), size=min(args.n, len(ds)), replace=False)
    faces = ds.images[idx]
    clf = EmotionClassifier()
    raw_labels = clf.predict_proba(faces).argmax(1)
    side, pad = args.face, args.face // 2
    truth = np.array([pad, pad, side, side], dtype=np.float64)
    for name in args.detectors or list_detectors(available_only=True):
        det = create_detector(name, DetectorOptions(score_threshold=0.5))
        scales, shifts, found = [], [], []
        for i, face in enumerate(faces):
            big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
            canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=int(np.median(face)))
            dets = det.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
            if not dets:
                continue
            ious = iou_matrix(np.array([d.box for d in dets]), truth[None])[:, 0]
            best = dets[int(ious.argmax())]
            if ious.max() < 0.3:
                continue
            x, y, w, h = best.box
            b = max(w, h)
            scales.append(side / b)
            shifts.append(((pad + side / 2 - (x + w / 2)) / b, (pad + side / 2 - (y + h / 2)) / b))
            found.append((i, canvas, best))
        scale = float(np.median(scales))
        shift = tuple(float(v) for v in np.median(np.array(shifts), axis=0))
        crops = np.stack([align_face(c, d, 48, scale, shift).image for _, c, d in found])
        labels = clf.predict_proba(crops).argmax(1)
        agree = float(np.mean(labels == raw_labels[[i for i, _, _ in found]]))
        print(
            f"{name:10s} found {len(found)}/{len(faces)}  scale {scale:.3f}  shift ({shift[0]:+.3f}, {shift[1]:+.3f})"
            f"  IQR scale {np.percentile(scales, 25):.3f}-{np.percentile(scales, 75):.3f}"
            f"  label agreement raw vs detect+align {agree:.3f}"
        )


if __name__ == "__main__":
    main()
