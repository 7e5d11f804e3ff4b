import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import ferkit
from ferkit import Recognizer, RecognizerOptions
from ferkit.faces import iou_matrix
from ferkit.infer import UnsupportedImageError, array_to_bgr, load_bgr
from ferkit.core.labels import EMOTIONS, SENTIMENTS

SAMPLE = Path(ferkit.__file__).parent / "samples" / "astronaut.png"
FACE = (180, 80, 90, 90)


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


@pytest.fixture(scope="module")
def bgr():
    return cv2.imread(str(SAMPLE))


def check_face(face):
    assert list(face.emotions) == list(EMOTIONS)
    assert abs(sum(face.emotions.values()) - 1.0) < 1e-9
    assert face.label == max(face.emotions, key=face.emotions.get)
    assert face.sentiment in SENTIMENTS
    assert abs(sum(face.sentiment_scores.values()) - 1.0) < 1e-9
    assert iou_matrix([face.box], [FACE])[0, 0] > 0.6
    json.dumps(face.to_dict())  # plain JSON types only


def test_path_gives_the_astronauts_face(recognizer):
    faces = recognizer.analyze_image(SAMPLE)
    assert len(faces) == 1
    check_face(faces[0])
    assert faces[0].label == "happy" and faces[0].sentiment == "positive"
    assert all(isinstance(v, int) for v in faces[0].box)
    assert len(faces[0].landmarks) == 6


def test_every_accepted_array_type_gives_the_same_face(recognizer, bgr):
    ref = recognizer.analyze_image(bgr)[0]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    variants = {
        "str path": str(SAMPLE),
        "bgra": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "float 0-1": bgr.astype(np.float32) / 255,
        "float 0-255": bgr.astype(np.float64),
        "uint16": bgr.astype(np.uint16) * 257,
        "pil rgb": Image.fromarray(rgb),
        "pil rgba": Image.fromarray(rgb).convert("RGBA"),
    }
    for name, image in variants.items():
        faces = recognizer.analyze_image(image)
        assert len(faces) == 1, name
        assert faces[0].box == ref.box, name
        assert np.allclose(list(faces[0].emotions.values()), list(ref.emotions.values()), atol=1e-3), name
    rgb_rec = Recognizer(color_order="rgb")
    assert rgb_rec.analyze_image(rgb)[0].box == ref.box


def test_grayscale_inputs(recognizer, bgr):
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    for image in (gray, gray[:, :, None], Image.fromarray(gray)):
        faces = recognizer.analyze_image(image)
        assert len(faces) == 1
        check_face(faces[0])


def test_no_face_gives_an_empty_list(recognizer):
    assert recognizer.analyze_image(np.full((240, 320, 3), 127, np.uint8)) == []


def test_unsupported_inputs_say_what_they_are(recognizer):
    for bad, match in [
        (42, "cannot analyse a int"),
        ([[1, 2], [3, 4]], "cannot analyse a list"),
        (np.zeros((4, 4, 2), np.uint8), "got shape"),
        (np.zeros((0, 5), np.uint8), "empty image"),
        (np.zeros((8, 8), np.complex64), "dtype complex64"),
        (np.full((8, 8), np.nan), "NaN"),
    ]:
        with pytest.raises(UnsupportedImageError, match=match):
            recognizer.analyze_image(bad)
    with pytest.raises(FileNotFoundError):
        recognizer.analyze_image("/no/such/file.png")
    with pytest.raises(ValueError, match="color_order"):
        array_to_bgr(np.zeros((4, 4, 3), np.uint8), "hsv")


def test_analysis_never_changes_the_callers_image(recognizer, bgr):
    image = bgr.copy()
    recognizer.analyze_image(image)
    assert np.array_equal(image, bgr)
    assert load_bgr(image).dtype == np.uint8


def test_options(bgr):
    opts = RecognizerOptions(detector="haar", max_faces=1, tta="flip", sentiment_map="fear_sad_neutral")
    faces = Recognizer(opts).analyze_image(bgr)
    assert len(faces) == 1
    check_face(faces[0])
    assert faces[0].landmarks is None  # Haar has no landmarks
    with pytest.raises(TypeError, match="either"):
        Recognizer(opts, tta="none")
    with pytest.raises(ValueError, match="unknown face detector"):
        Recognizer(detector="nope")


def test_many_faces_are_classified_in_one_batch(bgr):
    recognizer = Recognizer(upsample=1)  # faces under a tenth of the width need tiles
    x, y, w, h = FACE
    patch = bgr[y - 27 : y + h + 27, x - 27 : x + w + 27]
    canvas = np.full((400, 1200, 3), 90, np.uint8)
    for i in range(4):
        canvas[100 : 100 + patch.shape[0], 40 + i * 290 : 40 + i * 290 + patch.shape[1]] = patch
    faces = recognizer.analyze_image(canvas)
    assert len(faces) == 4
    assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)
    assert {f.label for f in faces} == {"happy"}
    # one batched classifier call gives what one call per face gives
    image, detections = recognizer.detect(canvas)
    crops = recognizer.align(image, detections)
    batched = recognizer.classify(crops)
    single = np.concatenate([recognizer.classify(c[None]) for c in crops])
    assert np.allclose(batched, single, atol=1e-6)
    assert np.allclose(batched, [list(f.emotions.values()) for f in faces])
