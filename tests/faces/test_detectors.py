import numpy as np
import pytest

from ferkit.faces import Detection, DetectorOptions, create_detector, iou_matrix, list_detectors, weighted_nms
from ferkit.video.synthetic import ASTRONAUT_FACE, face_box, sample_face


def place(canvas, side, x, y):
    """Paste the astronaut's head (``side`` px) at (x, y); returns her face box."""
    canvas[y : y + side, x : x + side] = sample_face(side)
    return face_box(x, y, side)

DETECTORS = list_detectors(available_only=True)


def test_registry_lists_backends():
    assert {"blazeface", "haar", "dlib_hog"} <= set(list_detectors())
    assert {"blazeface", "haar"} <= set(DETECTORS)
    with pytest.raises(ValueError, match="unknown face detector"):
        create_detector("nope")


@pytest.mark.parametrize("name", DETECTORS)
def test_finds_the_astronaut_where_she_is(name, astronaut):
    faces = create_detector(name).detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert iou_matrix([face.box], [ASTRONAUT_FACE])[0, 0] > 0.6
    assert 0.5 <= face.score <= 1.0
    if name in ("blazeface", "dlib_hog"):
        right, left = face.eye_centers()
        assert right[0] < left[0]  # the person's right eye is on the image's left
        x, y, w, h = face.box
        assert x < right[0] < x + w and y < right[1] < y + h / 2 + 5


@pytest.mark.parametrize("name", DETECTORS)
def test_grayscale_input(name, astronaut):
    gray = astronaut.mean(axis=2).astype(np.uint8)
    faces = create_detector(name).detect(gray)
    best = max(faces, key=lambda f: f.score)
    assert iou_matrix([best.box], [ASTRONAUT_FACE])[0, 0] > 0.6


@pytest.mark.parametrize("name", DETECTORS)
def test_nothing_on_blank_or_noise(name):
    rng = np.random.default_rng(0)
    det = create_detector(name)
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert det.detect(np.full((240, 320, 3), 200, np.uint8)) == []
    assert det.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []


@pytest.mark.parametrize("name", DETECTORS)
def test_two_faces_sorted_left_to_right_and_limits(name, astronaut):
    canvas = np.full((480, 800, 3), 90, np.uint8)
    right_box = place(canvas, 240, 520, 120)
    left_box = place(canvas, 240, 40, 60)
    faces = create_detector(name).detect(canvas)
    assert len(faces) == 2
    assert faces[0].box[0] < faces[1].box[0]
    assert iou_matrix([faces[0].box], [left_box])[0, 0] > 0.5
    assert iou_matrix([faces[1].box], [right_box])[0, 0] > 0.5
    # max_faces keeps the best scoring; min_face_size and threshold drop faces
    assert len(create_detector(name, DetectorOptions(max_faces=1)).detect(canvas)) == 1
    assert create_detector(name, DetectorOptions(min_face_size=300)).detect(canvas) == []
    assert create_detector(name, DetectorOptions(score_threshold=1.0)).detect(canvas) == []


def test_blazeface_upsample_finds_small_faces(astronaut):
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    box = place(canvas, 90, 900, 500)  # a 56 px face
    assert create_detector("blazeface").detect(canvas) == []
    faces = create_detector("blazeface", DetectorOptions(upsample=2)).detect(canvas)
    assert len(faces) == 1 and iou_matrix([faces[0].box], [box])[0, 0] > 0.5


def test_bad_options():
    for bad in ({"score_threshold": 1.5}, {"min_face_size": 0}, {"max_faces": 0}, {"upsample": -1}):
        with pytest.raises(ValueError):
            DetectorOptions(**bad)


def test_weighted_nms_merges_overlaps():
    dets = [Detection((10, 10, 50, 50), 0.9), Detection((14, 10, 50, 50), 0.6), Detection((200, 10, 50, 50), 0.7)]
    merged = weighted_nms(dets, iou=0.3)
    assert len(merged) == 2
    best = max(merged, key=lambda d: d.score)
    assert best.score == 0.9 and 10 < best.box[0] < 14  # score-weighted mean of the two
    assert iou_matrix([(0, 0, 10, 10)], [(5, 0, 10, 10)])[0, 0] == pytest.approx(1 / 3)
