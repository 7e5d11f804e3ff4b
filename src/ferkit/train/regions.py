"""The region model's boxes for a training run: dlib landmarks on every face, computed once and cached
beside the run (``regions_<content hash>.npz``), keyed by the images' content; the number of faces that
fell back to the fixed-ratio boxes is logged and written to ``regions.json``."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from ferkit.faces.regions import face_regions

log = logging.getLogger("ferkit.train")

RECORD_NAME = "regions.json"


def content_key(images: np.ndarray) -> str:
    h = hashlib.sha1()
    h.update(repr(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:16]


def cached_regions(images: np.ndarray, cache_dir: str | Path, what: str, progress: bool = False
                   ) -> tuple[np.ndarray, dict]:
    """Region boxes (N, 2, 4) of ``images``, from the cache in ``cache_dir`` when there, and the record
    (faces, fallbacks, seconds, cache file)."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"regions_{content_key(images)}.npz"
    if path.exists():
        with np.load(path) as f:
            boxes, fallback = f["boxes"], f["fallback"]
        seconds, cached = 0.0, True
    else:
        start = time.perf_counter()
        boxes, fallback = face_regions(images, progress=progress)
        seconds, cached = time.perf_counter() - start, False
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, boxes=boxes, fallback=fallback)
        tmp.replace(path)
    record = {"images": what, "faces": int(len(images)), "fallbacks": int(np.sum(fallback)),
              "seconds": round(seconds, 1), "cache": path.name, "from_cache": cached}
    log.info("region landmarks for %s: %d faces, %d fell back to the fixed-ratio regions%s", what, len(images),
             fallback.sum(), " (cached)" if cached else f" ({seconds:.0f} s)")
    return boxes, record


def write_record(out: str | Path, records: list[dict]) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / RECORD_NAME).write_text(json.dumps(records, indent=2))
