from pathlib import Path

import cv2
import numpy as np
import pytest

import ferkit

pytest.importorskip("fastapi", reason="the web app needs the serve extra: pip install ferkit[serve]")

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


@pytest.fixture(scope="session")
def sample_bgr() -> np.ndarray:
    return cv2.imread(str(SAMPLE))


@pytest.fixture
def make_client(tmp_path):
    """A TestClient factory over create_app(ServeOptions(**kw)), closed after the test."""
    from fastapi.testclient import TestClient

    from ferkit.serve import ServeOptions, create_app

    clients = []

    def make(**kw):
        kw.setdefault("work_dir", str(tmp_path / "work"))
        client = TestClient(create_app(ServeOptions(**kw)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
