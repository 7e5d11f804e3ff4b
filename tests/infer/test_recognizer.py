import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import ferkit
from ferkit import Recognizer, RecognizerOptions
from ferkit.core.errors import MissingInputError, OptionError
from ferkit.core.inputs import UnsupportedImageError, array_to_bgr, load_bgr
from ferkit.core.labels import EMOTIONS, SENTIMENTS
from ferkit.faces import iou_matrix

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
    assert faces.status == "ok" and faces.path == str(SAMPLE) and (faces.width, faces.height) == (512, 512)
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
    result = recognizer.analyze_image(np.full((240, 320, 3), 127, np.uint8))
    assert len(result) == 0 and result.status == "no_face" and result.path is None


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
    with pytest.raises(MissingInputError):
        recognizer.analyze_image("/no/such/file.png")
    with pytest.raises(OptionError, match="color_order"):
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
    with pytest.raises(OptionError, match="detector must be one of blazeface"):
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
    pipeline = recognizer.pipeline
    detections = pipeline.detect(canvas)
    batched = pipeline.classify(canvas, detections)
    single = np.concatenate([pipeline.classify(canvas, [d]) for d in detections])
    assert np.allclose(batched, single, atol=1e-6)
    assert np.allclose(batched, [list(f.emotions.values()) for f in faces])


@pytest.mark.parametrize("bad, field", [
    ({"tta": "bogus"}, "tta"), ({"batch_size": 0}, "batch_size"), ({"batch_size": 2.5}, "batch_size"),
    ({"detector": "nope"}, "detector"), ({"model": "nope"}, "model"), ({"upsample": 5}, "upsample"),
    ({"score_threshold": 1.5}, "score_threshold"), ({"align": "yes"}, "align"), ({"threads": -1}, "threads"),
    ({"sentiment_map": "moody"}, "sentiment_map"), ({"sentiment_map": {"happy": "glad"}}, "sentiment_map"),
    ({"crop_shift": (0.1,)}, "crop_shift"), ({"color_order": "hsv"}, "color_order"),
])
def test_options_are_checked_when_made(bad, field):
    with pytest.raises(OptionError, match=field):
        RecognizerOptions(**bad)


def test_model_names_and_files(tmp_path):
    assert RecognizerOptions(model="default").model_path == RecognizerOptions().model_path
    with pytest.raises(MissingInputError, match="no such model file"):
        RecognizerOptions(model=tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    from ferkit.core.errors import InputError

    with pytest.raises(InputError, match="not a loadable ONNX model"):
        Recognizer(model=bad)


def test_video_options_are_checked_when_made():
    from ferkit import VideoOptions

    for bad, field in [({"every": 0}, "every"), ({"fps": 0}, "fps"), ({"detect_every": 0}, "detect_every"),
                       ({"smoothing_half_life_s": -1}, "smoothing"), ({"every": "2"}, "every"),
                       ({"fps": float("nan")}, "fps"), ({"detect_every": "fast"}, "'auto' or a whole number"),
                       ({"detect_every": 2.0}, "detect_every"), ({"scan_every_s": -0.1}, "scan_every_s")]:
        with pytest.raises(OptionError, match=field):
            VideoOptions(**bad)
    assert VideoOptions().detect_every == "auto" and VideoOptions(detect_every=4).detect_every == 4


def test_analyze_images_records_bad_inputs_and_goes_on(recognizer, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    results = list(recognizer.analyze_images([SAMPLE, bad, tmp_path / "missing.png", np.zeros((4, 4, 2), np.uint8)]))
    assert [r.status for r in results] == ["ok", "error", "error", "error"]
    assert results[1].error.startswith(str(bad)) and str(bad) not in results[1].error[len(str(bad)):]
    assert "no such file" in results[2].error and "got shape" in results[3].error


def test_api_misuse_gets_clear_errors(recognizer, tmp_path):
    from ferkit import VideoOptions, read_results
    from ferkit.core.errors import InputError

    with pytest.raises(OptionError, match="for one image use analyze_image"):
        list(recognizer.analyze_images(str(SAMPLE)))
    with pytest.raises(OptionError, match="must be a RecognizerOptions"):
        Recognizer({"detector": "haar"})
    with pytest.raises(OptionError, match="must be a VideoOptions"):
        recognizer.open_stream({"fps": 5})
    with pytest.raises(OptionError, match="takes no setting x"):
        RecognizerOptions(detector_cfg={"x": 1})
    RecognizerOptions(detector="haar", detector_cfg={"min_neighbors": 4})
    summary = tmp_path / "v.summary.json"
    summary.write_text(json.dumps({"video": "v.mp4", "frames_sampled": 3}))
    with pytest.raises(InputError, match="not a ferkit results file"):
        read_results(summary)
    assert VideoOptions(fps=5).every == 1


def test_the_detector_and_classifier_sessions_share_threads_and_sleep_between_calls():
    def spinning(opts) -> bool:
        try:
            return opts.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # not set: ONNX Runtime's default, which spins
            return True

    def sessions(rec):
        return (rec.pipeline.classifier.session.get_session_options(),
                rec.pipeline.detector.session.get_session_options())

    clf, det = sessions(Recognizer(RecognizerOptions(threads=1)))
    assert clf.intra_op_num_threads == det.intra_op_num_threads == 1
    assert not spinning(clf) and not spinning(det)
    clf, det = sessions(Recognizer(RecognizerOptions(threads=2, detector_cfg={"threads": 1, "spinning": True})))
    assert (clf.intra_op_num_threads, det.intra_op_num_threads) == (2, 1)  # the detector's own settings win
    assert spinning(det) and not spinning(clf)
    haar = Recognizer(RecognizerOptions(detector="haar", threads=1))  # a detector without threads still works
    assert haar.pipeline.classifier.session.get_session_options().intra_op_num_threads == 1
