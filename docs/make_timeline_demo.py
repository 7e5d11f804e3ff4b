"""The README's timeline picture: two CK+ subjects posing one emotion after another (their peak
frames, enlarged, drifting on a 960x540 canvas) made into a 10 fps video, analysed with
`ferkit analyze`. Only the plot is kept (CK+ images may not be redistributed).

    python docs/make_timeline_demo.py --data ../shared/datasets/ckplus.npz
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ferkit.cli import main as ferkit
from ferkit.data import load_dataset
from ferkit.video.writer import VideoWriter

SUBJECTS = {"S011": ["happy", "surprise", "fear", "sad", "angry", "disgust"],
            "S032": ["surprise", "angry", "happy", "disgust", "fear"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/datasets/ckplus.npz")
    ap.add_argument("--out", default="docs/images/timeline_demo.png")
    args = ap.parse_args()
    ds = load_dataset(args.data)
    fps, per_emotion = 10, 15  # 1.5 s per pose; the 3 peak frames 0.5 s each
    clips = {}
    for subject, emotions in SUBJECTS.items():
        frames = []
        for emotion in emotions:
            idx = np.flatnonzero((ds.groups == subject) & (ds.labels == ds.classes.index(emotion)))
            for i in idx[:3]:
                frames += [cv2.resize(ds.images[i], (200, 200), interpolation=cv2.INTER_CUBIC)] * (per_emotion // 3)
        clips[subject] = frames
    n = max(len(f) for f in clips.values())
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "ckplus_two_subjects.mp4"
        with VideoWriter(video, fps, 960, 540) as w:
            for t in range(n):
                canvas = np.full((540, 960), 90, np.uint8)
                for k, frames in enumerate(clips.values()):
                    if t < len(frames):
                        x = 80 + k * 480 + int(40 * np.sin(t / 15 + k))
                        y = 150 + int(30 * np.cos(t / 20 + k))
                        canvas[y : y + 200, x : x + 200] = frames[t]
                w.write(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
        ferkit(["analyze", str(video), "--out", str(Path(tmp) / "demo.jsonl"), "--no-progress"])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "demo.timeline.png", args.out)
        print((Path(tmp) / "demo.summary.json").read_text()[:1500])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
