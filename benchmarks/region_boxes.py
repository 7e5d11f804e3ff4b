"""The fixed-ratio fallback regions of the region model: the mean dlib 68-point eye-and-brow and mouth
boxes (15% margin, fractions of the face) over FER2013 training faces, and how many faces dlib's
landmarks give implausible regions for.

    python benchmarks/region_boxes.py [--data ../shared/datasets/fer2013.npz] [--n 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ferkit.core.regions import DEFAULT_REGIONS
from ferkit.data import find_dataset, load_dataset
from ferkit.faces.regions import face_regions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    ds = load_dataset(args.data or find_dataset("fer2013")).select_split("train")
    pick = np.random.default_rng(0).choice(len(ds), size=min(args.n, len(ds)), replace=False)
    t = time.perf_counter()
    boxes, fallback = face_regions(ds.images[pick])
    seconds = time.perf_counter() - t
    found = boxes[~fallback]
    print(f"{len(pick)} faces, {seconds / len(pick) * 1000:.2f} ms per face; implausible (fallback): "
          f"{fallback.sum()} ({100 * fallback.mean():.1f}%)")
    for name, mean, std, current in zip(("eyes", "mouth"), found.mean(0), found.std(0), DEFAULT_REGIONS):
        print(f"{name:>5}: mean ({', '.join(f'{v:.3f}' for v in mean)})  std ({', '.join(f'{v:.3f}' for v in std)})"
              f"  DEFAULT_REGIONS ({', '.join(f'{v:.3f}' for v in current)})")


if __name__ == "__main__":
    main()
