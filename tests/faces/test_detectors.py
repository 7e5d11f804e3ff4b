import cv2
import numpy as np
import pytest

from ferkit.core.errors import OptionError
from ferkit.faces import (
    Detection,
    DetectorOptions,
    create_detector,
    detector_entry,
    iou_matrix,
    list_detectors,
    register_detector,
    weighted_nms,
)
from ferkit.faces.detection import finalize

DETECTORS = list_detectors(available_only=True)


def test_registry_lists_backends():
    assert {"blazeface", "haar", "dlib_hog"} <= set(list_detectors())
    assert {"blazeface", "haar"} <= set(DETECTORS)
    with pytest.raises(OptionError, match="unknown face detector 'nope'; known: blazeface, dlib_hog, haar"):
        create_detector("nope")
    with pytest.raises(OptionError, match="unknown face detector"):
        detector_entry("nope")
    with pytest.raises(OptionError, match="DetectorOptions"):
        create_detector("haar", {"max_faces": 1})


@pytest.mark.parametrize("name", DETECTORS)
def test_finds_the_astronaut_where_she_is(name, astronaut, astronaut_face):
    faces = create_detector(name).detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert iou_matrix([face.box], [astronaut_face])[0, 0] > 0.6
    assert 0.5 <= face.score <= 1.0
    if name in ("blazeface", "dlib_hog"):
        right, left = face.eye_centers()
        assert right[0] < left[0]  # the person's right eye is on the image's left
        x, y, w, h = face.box
        assert x < right[0] < x + w and y < right[1] < y + h / 2 + 5


@pytest.mark.parametrize("name", DETECTORS)
def test_grayscale_input(name, astronaut, astronaut_face):
    gray = astronaut.mean(axis=2).astype(np.uint8)
    faces = create_detector(name).detect(gray)
    best = max(faces, key=lambda f: f.score)
    assert iou_matrix([best.box], [astronaut_face])[0, 0] > 0.6


@pytest.mark.parametrize("name", DETECTORS)
def test_nothing_on_blank_or_noise(name):
    rng = np.random.default_rng(0)
    det = create_detector(name)
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert det.detect(np.full((240, 320, 3), 200, np.uint8)) == []
    assert det.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []


@pytest.mark.parametrize("name", DETECTORS)
def test_two_faces_sorted_left_to_right_and_limits(name, place):
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


def test_blazeface_upsample_finds_small_faces(place):
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    box = place(canvas, 90, 900, 500)  # a 56 px face
    assert create_detector("blazeface").detect(canvas) == []
    faces = create_detector("blazeface", DetectorOptions(upsample=2)).detect(canvas)
    assert len(faces) == 1 and iou_matrix([faces[0].box], [box])[0, 0] > 0.5


@pytest.mark.parametrize("bad, field", [
    ({"score_threshold": 1.5}, "score_threshold"), ({"score_threshold": -0.1}, "score_threshold"),
    ({"score_threshold": "0.5"}, "score_threshold"), ({"score_threshold": float("nan")}, "score_threshold"),
    ({"min_face_size": 0}, "min_face_size"), ({"min_face_size": 20.5}, "min_face_size"),
    ({"max_faces": 0}, "max_faces"), ({"max_faces": True}, "max_faces"),
    ({"upsample": -1}, "upsample"), ({"upsample": 3}, "upsample"), ({"upsample": 5}, "upsample"),
    ({"upsample": 7}, "upsample"), ({"upsample": 1.0}, "upsample"),
    ({"max_side": 63}, "max_side"), ({"max_side": None}, "max_side"), ({"max_side": 1e4}, "max_side"),
])
def test_bad_options_are_refused_naming_the_field(bad, field):
    with pytest.raises(OptionError, match=rf"DetectorOptions\.{field} must"):
        DetectorOptions(**bad)


def test_good_options_are_kept():
    opts = DetectorOptions(score_threshold=1, min_face_size=1, max_faces=None, upsample=2, max_side=64)
    assert opts.score_threshold == 1.0 and isinstance(opts.score_threshold, float)
    assert (opts.min_face_size, opts.max_faces, opts.upsample, opts.max_side) == (1, None, 2, 64)
    assert DetectorOptions(0.4, 30, 2, 1).max_side == 1920  # positional fields keep their order


def test_crop_framing_is_registered_with_each_detector():
    import ferkit.faces.align as align

    assert not hasattr(align, "CROP_DEFAULTS")
    expected = {"blazeface": (1.19, (0.0, -0.10)), "dlib_hog": (1.28, (0.03, -0.07)), "haar": (1.04, (0.0, 0.0))}
    for name, (scale, shift) in expected.items():
        entry = detector_entry(name)
        assert entry.crop_scale == scale and entry.crop_shift == shift
    with pytest.raises(OptionError, match="crop_scale"):
        register_detector("bad_crop", crop_scale=0.0)
    with pytest.raises(OptionError, match="crop_shift"):
        register_detector("bad_crop", crop_shift=(0.1,))
    assert "bad_crop" not in list_detectors()


class BrightSquares:
    """A stand-in backend: each bright square is a "face" (its box, and its corners as landmarks);
    it records the images and options it is given."""

    name = "bright"

    def __init__(self, options):
        self.options = options
        self.seen = []

    def detect(self, image, options=None):
        options = options or self.options
        self.seen.append((image.shape, options))
        gray = image if image.ndim == 2 else image[..., 0]
        n, _, stats, _ = cv2.connectedComponentsWithStats((gray > 200).astype(np.uint8))
        found = []
        for x, y, w, h, _area in stats[1:]:
            corners = np.array([[x, y], [x + w, y + h]], dtype=np.float64)
            found.append(Detection((float(x), float(y), float(w), float(h)), 0.9, corners, None))
        return finalize(found, options, image.shape)


@pytest.fixture
def bright_squares():
    """A detector registered for one test, as a new backend file would register it."""
    from ferkit.faces import registry

    register_detector("bright", crop_scale=1.5, crop_shift=(0.0, 0.05))(BrightSquares)
    yield "bright"
    registry._DETECTORS.pop("bright", None)


def test_a_new_detector_is_one_registration(bright_squares):
    entry = detector_entry(bright_squares)
    assert entry.crop_scale == 1.5 and entry.crop_shift == (0.0, 0.05)
    assert entry.description.startswith("A stand-in backend")
    det = create_detector(bright_squares, DetectorOptions(min_face_size=5))
    canvas = np.zeros((300, 400), np.uint8)
    canvas[50:90, 60:100] = 255
    faces = det.detect(canvas)
    assert [f.box for f in faces] == [(60.0, 50.0, 40.0, 40.0)]
    assert det.backend.seen[0][0] == (300, 400)  # small enough: searched as it is


def test_large_images_are_searched_shrunk_and_mapped_back(bright_squares):
    canvas = np.zeros((3000, 4000, 3), np.uint8)
    squares = [(400, 300, 200, 200), (2800, 2000, 600, 400), (3990, 2990, 8, 8)]  # the last one: too small
    for x, y, w, h in squares:
        canvas[y : y + h, x : x + w] = 255
    det = create_detector(bright_squares, DetectorOptions(max_side=1000, min_face_size=40, max_faces=5))
    faces = det.detect(canvas)
    shape, inner = det.backend.seen[-1]
    assert shape == (750, 1000, 3)  # a copy shrunk to max_side, aspect kept
    assert inner.min_face_size == 10 and inner.max_faces is None  # min_face_size in the copy's pixels
    assert len(faces) == 2
    for face, truth in zip(faces, squares):
        assert np.allclose(face.box, truth, atol=4)  # one pixel of the copy is 4 of the image
        assert np.allclose(face.landmarks, [truth[:2], (truth[0] + truth[2], truth[1] + truth[3])], atol=4)
    assert det.options.max_side == 1000 and det.options.min_face_size == 40  # the caller's options untouched
    # max_faces and min_face_size still count in the image's own pixels
    assert len(create_detector(bright_squares, DetectorOptions(max_side=1000, max_faces=1)).detect(canvas)) == 1
    assert create_detector(bright_squares, DetectorOptions(max_side=1000, min_face_size=450)).detect(canvas) == []


@pytest.mark.parametrize("name", DETECTORS)
def test_two_faces_on_a_shrunk_copy_come_back_in_image_pixels(name, place):
    canvas = np.full((480, 800, 3), 90, np.uint8)
    boxes = [place(canvas, 240, 40, 60), place(canvas, 240, 520, 120)]
    faces = create_detector(name, DetectorOptions(max_side=560)).detect(canvas)
    assert len(faces) == 2
    for face, box in zip(faces, boxes):
        assert iou_matrix([face.box], [box])[0, 0] > 0.5
        if face.landmarks is not None:
            right, left = face.eye_centers()
            x, y, w, h = face.box
            assert x < right[0] < left[0] < x + w and y < right[1] < y + h / 2 + 5


@pytest.fixture(scope="module")
def huge_photo(place):
    """A 12000 x 12000 photo, plain gray but for one face (about 1900 px), and that face's box."""
    canvas = np.full((12000, 12000, 3), 128, np.uint8)
    box = place(canvas, 3000, 7000, 4200)
    return canvas, box


@pytest.mark.parametrize("name", DETECTORS)
def test_a_face_in_a_12000px_photo_is_found_in_its_pixels(name, huge_photo):
    canvas, box = huge_photo
    faces = create_detector(name).detect(canvas)
    assert len(faces) == 1  # and no false giant boxes
    assert iou_matrix([faces[0].box], [box])[0, 0] > 0.6
    x, y, w, h = faces[0].box
    assert 0 <= x and 0 <= y and x + w <= 12000 and y + h <= 12000


def test_weighted_nms_merges_overlaps():
    dets = [Detection((10, 10, 50, 50), 0.9), Detection((14, 10, 50, 50), 0.6), Detection((200, 10, 50, 50), 0.7)]
    merged = weighted_nms(dets, iou=0.3)
    assert len(merged) == 2
    best = max(merged, key=lambda d: d.score)
    assert best.score == 0.9 and 10 < best.box[0] < 14  # score-weighted mean of the two
    assert iou_matrix([(0, 0, 10, 10)], [(5, 0, 10, 10)])[0, 0] == pytest.approx(1 / 3)


def test_detect_near_finds_tracked_faces_again_in_small_windows(place):
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    left = place(canvas, 240, 60, 420)  # near the bottom edge: its window is moved inside the image
    right = place(canvas, 200, 900, 100)
    det = create_detector("blazeface")
    # where the faces were a few frames ago (moved by a tenth of their size)
    previous = [(left[0] + 15, left[1] - 10, left[2], left[3]), (right[0] - 12, right[1] + 8, right[2], right[3])]
    again = det.detect_near(canvas, previous)
    assert iou_matrix([again[0].box], [left])[0, 0] > 0.6 and iou_matrix([again[1].box], [right])[0, 0] > 0.6
    whole = det.detect(canvas)
    for near, full in zip(again, whole):
        assert iou_matrix([near.box], [full.box])[0, 0] > 0.75
        assert np.abs(near.landmarks - full.landmarks).max() < 0.1 * full.box[2]  # in the frame's pixels
    # no face near an empty place; a face running into the window's edge inside the image is not trusted
    assert det.detect_near(canvas, [(600, 300, 100, 100)]) == [None]
    assert det.detect_near(canvas, [(right[0] - 0.6 * right[2], right[1], right[2], right[3])], context=1.6) == [None]


def test_blazeface_searches_several_images_in_one_call(place):
    det = create_detector("blazeface")
    images = []
    for side, shape in [(120, (300, 300, 3)), (200, (420, 640, 3)), (90, (256, 200, 3))]:
        canvas = np.full(shape, 90, np.uint8)
        place(canvas, side, 10, 20)
        images.append(canvas)
    images.append(np.full((128, 128, 3), 90, np.uint8))  # and one with no face
    together = det.backend.detect_many(images, det.options)
    alone = [det.backend.detect(image) for image in images]
    assert [len(t) for t in together] == [len(a) for a in alone] == [1, 1, 1, 0]
    for t, a in zip(together, alone):
        for x, y in zip(t, a):
            assert np.allclose(x.box, y.box, atol=1e-3) and abs(x.score - y.score) < 1e-5
