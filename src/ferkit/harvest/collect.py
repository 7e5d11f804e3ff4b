"""One video's harvest: sample frames, detect, track and label faces with the same pipeline as
``ferkit analyze``, apply the detection and label rules, and collapse near-identical faces within each
track to the most confident one. Nothing is written here: :mod:`ferkit.harvest.store` does that."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ferkit.data.duplicates import phash
from ferkit.harvest.options import HarvestOptions
from ferkit.infer.options import VideoOptions
from ferkit.infer.recognizer import Recognizer

#: the detector reports faces from this score up, so those below ``min_score`` are counted, not unseen
SEEN_SCORE = 0.3


@dataclass
class Candidate:
    """A detected face that passed the detection rules: kept, or for review (``reason`` says why)."""

    track: int
    frame: int
    time_s: float
    box: list[int]
    score: float
    probs: np.ndarray
    crop: np.ndarray
    original: np.ndarray | None
    label: str = ""
    margin: float = 0.0
    status: str = "kept"
    reason: str = ""
    hash: int = 0
    hash_mirror: int = 0

    @property
    def confidence(self) -> float:
        return float(self.probs.max())


@dataclass
class VideoHarvest:
    """Everything a video gave: its candidates and the counts of every rule."""

    counts: Counter = field(default_factory=Counter)
    candidates: list[Candidate] = field(default_factory=list)
    frames: int = 0
    duration_s: float = 0.0
    complete: bool = True


def original_crop(bgr: np.ndarray, box: list[int], side: int) -> np.ndarray:
    """The colour square twice the face box's side around its centre (borders repeated), at ``side`` px."""
    x, y, w, h = box
    half = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    m = np.float32([[side / (2 * half), 0, side / 2 - cx * side / (2 * half)],
                    [0, side / (2 * half), side / 2 - cy * side / (2 * half)]])
    return cv2.warpAffine(bgr, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def label_rules(c: Candidate, classes: tuple[str, ...], opts: HarvestOptions) -> list[str]:
    """The label rules a candidate fails (empty: it passes), and sets its label and margin."""
    order = np.argsort(c.probs)[::-1]
    c.label = classes[int(order[0])]
    c.margin = float(c.probs[order[0]] - (c.probs[order[1]] if len(order) > 1 else 0.0))
    failed = []
    if c.probs[order[0]] < opts.min_prob:
        failed.append("min_prob")
    if c.margin < opts.min_margin:
        failed.append("min_margin")
    return failed


def unstable(track: list[Candidate], k: int) -> set[int]:
    """Positions in a track (ordered by frame) whose label differs from any of the k samples before or after."""
    labels = [c.label for c in track]
    return {i for i in range(len(track)) if any(labels[j] != labels[i]
                                                for j in range(max(0, i - k), min(len(track), i + k + 1)))}


def near(h: int, kept: list[int], mirrored_kept: list[int], bits: int) -> bool:
    """Is hash ``h`` within ``bits`` of a kept hash or of a kept face's mirror?"""
    if not kept:
        return False
    a = np.array(kept + mirrored_kept, dtype=np.uint64)
    return bool((np.bitwise_count(a ^ np.uint64(h)) <= bits).any())


def set_hashes(candidates: list[Candidate]) -> None:
    """Each candidate's pHash and its mirror's."""
    if not candidates:
        return
    hashes = phash(np.stack([c.crop for c in candidates]))
    mirrored = phash(np.stack([c.crop[:, ::-1] for c in candidates]))
    for c, h, m in zip(candidates, hashes, mirrored):
        c.hash, c.hash_mirror = int(h), int(m)


def dedupe_tracks(candidates: list[Candidate], bits: int, counts: Counter) -> list[Candidate]:
    """Within each track (kept and review faces apart), keep the most confident of near-identical faces."""
    if bits < 0 or not candidates:
        return candidates
    hashes = [c.hash for c in candidates]
    mirrored = [c.hash_mirror for c in candidates]
    groups: dict[tuple[int, str], list[int]] = {}
    for i, c in enumerate(candidates):
        groups.setdefault((c.track, c.status), []).append(i)
    keep: list[int] = []
    for members in groups.values():
        chosen, chosen_mirror = [], []
        for i in sorted(members, key=lambda i: -candidates[i].confidence):
            if near(hashes[i], chosen, chosen_mirror, bits):
                counts["duplicate_in_track" if candidates[i].status == "kept" else "review_duplicate_in_track"] += 1
                continue
            chosen.append(hashes[i])
            chosen_mirror.append(mirrored[i])
            keep.append(i)
    return [candidates[i] for i in sorted(keep)]


def collect_video(path: str | Path, recognizer: Recognizer, opts: HarvestOptions, progress: bool = False
                  ) -> VideoHarvest:
    """Sample, detect, track, label and filter the faces of one video (see the module docstring).
    Raises what the video reader raises for an unreadable file (the caller reports and skips it)."""
    out = VideoHarvest()
    classes = recognizer.classes
    pipeline = recognizer.pipeline
    frames = recognizer.analyze_video(path, VideoOptions(fps=opts.fps, smoothing_half_life_s=0.0))
    expected = getattr(frames.source, "expected_samples", None)
    with frames, tqdm(total=expected() if expected else None, desc=Path(path).name, unit="frame",
                      disable=not progress, leave=False) as bar:
        for result in frames:
            out.frames += 1
            out.duration_s = result.time_s
            bar.update(1)
            if not result.faces:
                continue
            bgr = frames.last_image
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            for face in result.faces:
                out.counts["seen"] += 1
                if face.score < opts.min_score:
                    out.counts["filtered_min_score"] += 1
                    continue
                if min(face.box[2], face.box[3]) < opts.min_face:
                    out.counts["filtered_min_face"] += 1
                    continue
                probs = np.array([face.emotions[c] for c in classes], dtype=np.float64)
                out.candidates.append(Candidate(
                    track=int(face.track_id), frame=result.frame, time_s=result.time_s, box=list(face.box),
                    score=float(face.score), probs=probs, crop=pipeline.aligned_crop(gray, face, opts.size),
                    original=original_crop(bgr, face.box, opts.original_size) if opts.original_size else None,
                ))
        out.complete = bool(getattr(frames.source, "complete", True))
    failed = {id(c): label_rules(c, classes, opts) for c in out.candidates}
    if opts.stable:
        tracks: dict[int, list[Candidate]] = {}
        for c in out.candidates:
            tracks.setdefault(c.track, []).append(c)
        for track in tracks.values():
            for i in unstable(track, opts.stable):
                failed[id(track[i])].append("stable")
    for c in out.candidates:
        if failed[id(c)]:
            c.status, c.reason = "review", "failed " + "+".join(failed[id(c)])
            out.counts["review"] += 1
            for rule in failed[id(c)]:
                out.counts[f"review_{rule}"] += 1
        else:
            rules = [f"score>={opts.min_score}", f"face>={opts.min_face}px", f"prob>={opts.min_prob}",
                     f"margin>={opts.min_margin}"] + ([f"stable±{opts.stable}"] if opts.stable else [])
            c.reason = "passed " + ", ".join(rules)
    set_hashes(out.candidates)
    out.candidates = dedupe_tracks(out.candidates, opts.dedupe_bits, out.counts)
    return out


def dedupe_across(candidates: list[Candidate], hashes: list[int], mirrors: list[int], bits: int,
                  counts: Counter) -> list[Candidate]:
    """Drop kept faces near-identical to a face already kept in the dataset (``hashes``/``mirrors``, which
    grow with the faces accepted here); review faces are not compared."""
    out = []
    for c in sorted(candidates, key=lambda c: -c.confidence):
        if c.status == "kept" and bits >= 0:
            if near(c.hash, hashes, mirrors, bits):
                counts["duplicate_across"] += 1
                continue
            hashes.append(c.hash)
            mirrors.append(c.hash_mirror)
        out.append(c)
    out.sort(key=lambda c: (c.frame, c.track))
    counts["kept"] = sum(c.status == "kept" for c in out)
    return out
