"""The bundled astronaut photo and her head pasted onto canvases, read here from the package's
samples so the faces tests need nothing above the faces layer."""

from pathlib import Path

import cv2
import numpy as np
import pytest

import ferkit

SAMPLES = Path(ferkit.__file__).resolve().parent / "samples"
#: the astronaut's face in samples/astronaut.png (x, y, w, h), as the detectors find it
ASTRONAUT_FACE = (180, 80, 90, 90)
#: her head (x, y, side) in the same photo; the face is 62.5% of it
HEAD = (153, 53, 144)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return cv2.imread(str(SAMPLES / "astronaut.png"))


@pytest.fixture(scope="session")
def astronaut_face() -> tuple[int, int, int, int]:
    return ASTRONAUT_FACE


@pytest.fixture(scope="session")
def place(astronaut):
    """``place(canvas, side, x, y)`` pastes the astronaut's head, ``side`` pixels wide, with its
    top-left corner at (x, y) and returns her face box there (x, y, w, h)."""
    hx, hy, n = HEAD
    head = astronaut[hy : hy + n, hx : hx + n]

    def paste(canvas: np.ndarray, side: int, x: int, y: int) -> tuple[float, float, float, float]:
        interp = cv2.INTER_AREA if side < n else cv2.INTER_LINEAR
        face = cv2.resize(head, (side, side), interpolation=interp)
        canvas[y : y + side, x : x + side] = face if canvas.ndim == 3 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
        k = side / n
        fx, fy, fw, fh = ASTRONAUT_FACE
        return (x + (fx - hx) * k, y + (fy - hy) * k, fw * k, fh * k)

    return paste
