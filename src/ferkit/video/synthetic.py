"""Test videos made from face images moving on a plain background: known faces, positions and
times, for tests, benchmarks and demos (no downloaded footage needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ferkit.video.writer import VideoWriter

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@dataclass
class Sprite:
    """``image`` (BGR) moves linearly from ``start`` to ``end`` (top-left x, y) while
    ``t0 <= t < t1`` seconds; it is not drawn outside that window."""

    image: np.ndarray
    start: tuple[float, float]
    end: tuple[float, float]
    t0: float = 0.0
    t1: float = float("inf")

    def position(self, t: float, duration: float) -> tuple[int, int] | None:
        if not self.t0 <= t < self.t1:
            return None
        span = min(self.t1, duration) - self.t0
        a = 0.0 if span <= 0 else (t - self.t0) / span
        return (int(round(self.start[0] + a * (self.end[0] - self.start[0]))),
                int(round(self.start[1] + a * (self.end[1] - self.start[1]))))


#: the astronaut's face in samples/astronaut.png (x, y, w, h), as the detectors find it
ASTRONAUT_FACE = (180, 80, 90, 90)
#: the head crop that ``sample_face`` resizes (x, y, side) in the same photo
HEAD = (153, 53, 144)


def sample_face(side: int = 150) -> np.ndarray:
    """The bundled astronaut photo's head, ``side`` pixels wide (the face is 62.5% of it)."""
    img = cv2.imread(str(SAMPLES / "astronaut.png"))
    x, y, n = HEAD
    head = img[y : y + n, x : x + n]
    return cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA if side < 144 else cv2.INTER_LINEAR)


def face_box(x: float, y: float, side: float) -> tuple[float, float, float, float]:
    """Where the face is in a ``sample_face(side)`` pasted with its top-left corner at (x, y)."""
    k = side / HEAD[2]
    fx, fy, fw, fh = ASTRONAUT_FACE
    return (x + (fx - HEAD[0]) * k, y + (fy - HEAD[1]) * k, fw * k, fh * k)


def render_frame(width: int, height: int, sprites: list[Sprite], t: float, duration: float,
                 background: int = 70) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """One frame and the (x, y, w, h) of each sprite drawn in it (clipped to the frame)."""
    frame = np.full((height, width, 3), background, np.uint8)
    boxes = []
    for sprite in sprites:
        pos = sprite.position(t, duration)
        if pos is None:
            continue
        x, y = pos
        h, w = sprite.image.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        if x1 <= x0 or y1 <= y0:
            continue
        frame[y0:y1, x0:x1] = sprite.image[y0 - y : y1 - y, x0 - x : x1 - x]
        boxes.append((x0, y0, x1 - x0, y1 - y0))
    return frame, boxes


def make_test_video(path: str | Path, sprites: list[Sprite], width: int = 640, height: int = 480,
                    fps: float = 30.0, seconds: float = 2.0) -> list[list[tuple[int, int, int, int]]]:
    """Write the video; returns the sprite boxes drawn in each frame."""
    truth = []
    n = int(round(fps * seconds))
    with VideoWriter(path, fps, width, height) as writer:
        for i in range(n):
            t = i / fps
            frame, boxes = render_frame(width, height, sprites, t, seconds)
            writer.write(frame)
            truth.append(boxes)
    return truth
