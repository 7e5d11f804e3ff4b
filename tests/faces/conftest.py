from pathlib import Path

import cv2
import numpy as np
import pytest

import ferkit

SAMPLES = Path(ferkit.__file__).parent / "samples"
#: the astronaut's face in samples/astronaut.png (x, y, w, h), as several detectors find it
ASTRONAUT_FACE = (180, 80, 90, 90)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return cv2.imread(str(SAMPLES / "astronaut.png"))


def face_patch(astronaut: np.ndarray, side: int) -> np.ndarray:
    """The astronaut's head and shoulders (about 1.6x the face box), resized so the face is ``side``."""
    x, y, w, h = ASTRONAUT_FACE
    m = int(0.3 * w)
    patch = astronaut[y - m : y + h + m, x - m : x + w + m]
    k = side / w
    return cv2.resize(patch, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


def place(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    """Paste ``patch`` at (x, y); returns the face box inside it."""
    canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    m = patch.shape[1] / 1.6 * 0.3
    side = patch.shape[1] / 1.6
    return (x + m, y + m, side, side)
