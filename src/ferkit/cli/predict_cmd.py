"""ferkit predict: the seven emotion probabilities of face crops."""

from __future__ import annotations

import argparse
import json
import sys

from ferkit.cli.common import TTA_CHOICES


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="emotion probabilities of face crops",
                       description="Classify face crops (any size or colour; each file is one face). "
                       "Uses the bundled default model unless --model is given.")
    p.add_argument("images", nargs="+", help="face crop image files")
    p.add_argument("--model", help="ONNX model or checkpoint file, or a bundled model name (default: the bundled "
                   "model)")
    p.add_argument("--tta", default="none", choices=TTA_CHOICES)
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument("--no-progress", action="store_true", help="accepted for symmetry; predict shows no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ferkit.core.errors import InputError
    from ferkit.core.images import load_gray
    from ferkit.infer.classifier import EmotionClassifier

    clf = EmotionClassifier(args.model)
    failed = 0
    faces, paths = [], []
    for path in args.images:
        try:
            faces.append(load_gray(path, clf.image_size))
            paths.append(path)
        except (OSError, InputError) as exc:
            failed += 1
            msg = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            if args.json:
                print(json.dumps({"path": path, "error": msg}))
            print(f"error: {msg}", file=sys.stderr)
    if faces:
        probs = clf.predict_proba(np.stack(faces), tta=args.tta)
        for path, p in zip(paths, probs):
            label = clf.classes[int(p.argmax())]
            if args.json:
                print(json.dumps({"path": path, "label": label, "emotions": dict(zip(clf.classes, p.tolist()))}))
            else:
                cells = "  ".join(f"{c} {v:.3f}" for c, v in zip(clf.classes, p))
                print(f"{path}: {label:<8}  {cells}")
    return 1 if failed else 0
