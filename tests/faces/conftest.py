import cv2
import numpy as np
import pytest

from ferkit.video.synthetic import SAMPLES


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return cv2.imread(str(SAMPLES / "astronaut.png"))
