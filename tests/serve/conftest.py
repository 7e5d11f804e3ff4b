import cv2
import numpy as np
import pytest
from serve_helpers import SAMPLE

pytest.importorskip("fastapi", reason="the web app needs the serve extra: pip install ferkit[serve]")


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
