import pytest

from ferkit.video.synthetic import Sprite, make_test_video, sample_face


@pytest.fixture(scope="session")
def face():
    return sample_face(150)


@pytest.fixture(scope="session")
def crossing_video(tmp_path_factory, face):
    """3 s at 30 fps, 640x480: face A moves right for 2 s; face B moves left for the first second,
    crossing A; nothing from 2.0 to 2.4 s; face C stands still from 2.4 s."""
    path = tmp_path_factory.mktemp("videos") / "crossing.mp4"
    sprites = [
        Sprite(face, (20, 100), (450, 150), 0.0, 2.0),
        Sprite(face, (470, 50), (20, 60), 0.0, 1.0),
        Sprite(face, (300, 300), (300, 300), 2.4, 3.0),
    ]
    truth = make_test_video(path, sprites, 640, 480, 30, 3.0)
    return path, truth
