"""Drawing faces on images: box, label with its probability, and a bar per emotion."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ferkit.core.labels import EMOTION_COLORS

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=(255, 255, 255)) -> None:
    thick = max(1, int(round(scale * 2)))
    cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, color, thick, cv2.LINE_AA)


def draw_face(img: np.ndarray, box: Sequence[int], emotions: dict[str, float], label: str,
              title: str | None = None, bars: bool = True) -> None:
    """Draw one face in place on a BGR image."""
    x, y, w, h = (int(v) for v in box)
    height, width = img.shape[:2]
    unit = float(np.clip(max(width, height) / 800, 0.55, 1.6))
    color = EMOTION_COLORS.get(label, (255, 255, 255))
    cv2.rectangle(img, (x, y), (x + w, y + h), color, max(1, int(round(2 * unit))), cv2.LINE_AA)
    caption = f"{title + ' ' if title else ''}{label} {emotions[label]:.0%}"
    _text(img, caption, (x, max(int(22 * unit), y - int(6 * unit))), 0.7 * unit, color)
    if not bars:
        return
    names = list(emotions)
    row, label_w, bar_w = int(18 * unit), int(72 * unit), int(100 * unit)
    block_w = label_w + bar_w + 4
    bx = x + w + 6 if x + w + 6 + block_w <= width else max(0, x - 6 - block_w)
    by = min(max(0, y), max(0, height - row * len(names)))
    overlay = img.copy()
    cv2.rectangle(overlay, (bx, by), (bx + block_w, by + row * len(names)), (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.45, img, 0.55, 0, dst=img)
    for i, name in enumerate(names):
        top = by + i * row
        _text(img, name, (bx + 2, top + row - int(4 * unit)), 0.45 * unit)
        length = int(round(bar_w * float(emotions[name])))
        cv2.rectangle(img, (bx + label_w, top + 2), (bx + label_w + length, top + row - 2),
                      EMOTION_COLORS.get(name, (255, 255, 255)), -1)


def draw_faces(bgr: np.ndarray, faces: Sequence, bars: bool = True) -> np.ndarray:
    """An annotated copy of ``bgr`` for ``faces`` (``Face`` objects or their dicts)."""
    out = np.ascontiguousarray(bgr).copy()
    for i, face in enumerate(faces):
        f = face if isinstance(face, dict) else face.to_dict()
        title = f"#{f['track_id']}" if f.get("track_id") is not None else None
        draw_face(out, f["box"], f["emotions"], f["label"], title=title, bars=bars)
    return out
