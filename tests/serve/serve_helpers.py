"""What the web app's tests share (importable as ``serve_helpers``)."""

from pathlib import Path

import cv2
import numpy as np

import ferkit

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()
