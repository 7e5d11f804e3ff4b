import cv2
import numpy as np
import pytest

from ferkit.data import load_dataset
from ferkit.faces import Detection
from ferkit.faces.align import align_face, eye_angle, region_boxes, region_crops


def pattern(size: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6)).astype(np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def test_whole_image_box_is_identity():
    img = pattern()
    out = align_face(img, (0, 0, 48, 48), size=48)
    assert np.array_equal(out.image, img)
    assert out.angle == 0.0


def test_enlarged_face_on_a_canvas_comes_back():
    img = pattern()
    big = cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(big, 70, 50, 30, 90, cv2.BORDER_CONSTANT, value=0)
    out = align_face(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), (30, 70, 192, 192), size=48).image
    assert np.abs(out.astype(int) - img.astype(int)).mean() < 3


def test_scale_and_shift_move_the_crop():
    canvas = np.zeros((200, 200), np.uint8)
    canvas[90:110, 90:110] = 255
    box = (80, 80, 40, 40)
    assert align_face(canvas, box, 40).image.mean() == pytest.approx(255 * 0.25, abs=8)
    assert align_face(canvas, box, 40, scale=2.0).image.mean() == pytest.approx(255 * 0.0625, abs=4)
    shifted = align_face(canvas, box, 40, shift=(0.5, 0.0)).image
    assert shifted[:, :20].mean() > shifted[:, 20:].mean()


def test_rotation_levels_the_eyes():
    img = pattern(96)
    center = (48.0, 48.0)
    eyes = np.array([[30.0, 40.0], [66.0, 40.0]])
    m = cv2.getRotationMatrix2D(center, -20, 1.0)  # tilt the face 20 degrees
    tilted = cv2.warpAffine(img, m, (96, 96), borderMode=cv2.BORDER_REPLICATE)
    tilted_eyes = eyes @ m[:, :2].T + m[:, 2]
    assert eye_angle(*tilted_eyes) == pytest.approx(20, abs=0.01)
    pts = np.zeros((6, 2))
    pts[0], pts[1] = tilted_eyes
    det = Detection((28, 28, 40, 40), 1.0, pts, "blazeface6")
    aligned = align_face(tilted, det, 40)
    plain = align_face(img, (28, 28, 40, 40), 40).image
    unrotated = align_face(tilted, det, 40, rotate=False).image
    assert aligned.angle == pytest.approx(20, abs=0.01)
    err = np.abs(aligned.image.astype(int) - plain.astype(int)).mean()
    assert err < 4 and err < np.abs(unrotated.astype(int) - plain.astype(int)).mean() / 3
    # landmarks map into the crop: the eyes land level
    crop_eyes = aligned.transform(tilted_eyes)
    assert crop_eyes[0, 1] == pytest.approx(crop_eyes[1, 1], abs=1e-6)


def test_region_crops_from_68_points():
    pts = np.zeros((68, 2))
    pts[17:27] = np.c_[np.linspace(10, 38, 10), np.full(10, 12)]  # brows
    pts[36:48] = np.c_[np.linspace(12, 36, 12), np.full(12, 18)]  # eyes
    pts[48:68] = np.c_[np.linspace(16, 32, 20), np.linspace(32, 38, 20)]  # mouth
    boxes = region_boxes(pts, "ibug68", margin=0.0)
    assert boxes["eyes"] == pytest.approx((10, 12, 28, 6))
    assert boxes["mouth"] == pytest.approx((16, 32, 16, 6))
    img = np.zeros((48, 48), np.uint8)
    img[32:38, 16:32] = 200
    crops = region_crops(img, pts, "ibug68", margin=0.0)
    assert crops["eyes"].shape == (32, 64) and crops["mouth"].shape == (32, 48)
    assert crops["mouth"].mean() > 150 and crops["eyes"].mean() < 20
    with pytest.raises(ValueError, match="do not match"):
        region_boxes(pts[:10], "ibug68")


def test_region_crops_from_6_keypoints():
    pts = np.array([[30, 40], [70, 40], [50, 55], [50, 75], [10, 50], [90, 50]], float)
    boxes = region_boxes(pts, "blazeface6", margin=0.0)
    x, y, w, h = boxes["eyes"]
    assert x < 30 and x + w > 70 and y < 40 < y + h
    x, y, w, h = boxes["mouth"]
    assert x < 50 < x + w and y < 75 < y + h


@pytest.mark.data
def test_fer2013_faces_through_the_alignment_path_keep_their_prediction(fer2013_path):
    """A FER2013 face enlarged on a canvas and cropped back through align_face gets the same
    prediction as the raw 48x48 image."""
    from ferkit.infer.classifier import EmotionClassifier  # above the faces layer: only here

    ds = load_dataset(fer2013_path).select_split("test")
    faces = ds.images[:200]
    clf = EmotionClassifier()
    raw = clf.predict_proba(faces)
    crops = []
    for face in faces:
        big = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, 40, 60, 100, 20, cv2.BORDER_REPLICATE)
        crops.append(align_face(canvas, (100, 40, 160, 160), size=48).image)
    through = clf.predict_proba(np.stack(crops))
    # measured: 95% same label with the v1.3 default, 92% with v1.4, mean largest probability change 0.044 and
    # 0.048 (the enlarging and shrinking alone blur the face a little); a box 8 px (5%) off: 87% and 0.10
    assert np.mean(raw.argmax(1) == through.argmax(1)) >= 0.90
    assert np.abs(raw - through).max(axis=1).mean() < 0.06
    exact = np.stack([align_face(f, (0, 0, 48, 48), size=48).image for f in faces])
    assert np.array_equal(clf.predict_proba(exact), raw)


def test_only_the_part_the_crop_reads_is_converted_and_the_crop_is_unchanged():
    """align_face converts to gray only the pixels its warp reads; faces anywhere (partly outside the
    image, rotated, large and small) give exactly what warping the whole gray image gives."""
    from ferkit.core.images import resize_gray
    from ferkit.faces.align import crop_matrix, source_window

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (360, 640, 3), dtype=np.uint8), (5, 5), 2)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    for _ in range(120):
        w = float(rng.uniform(12, 400))
        x, y = float(rng.uniform(-80, 640)), float(rng.uniform(-80, 360))
        eyes = [[x + 0.3 * w, y + 0.4 * w + rng.uniform(-0.2, 0.2) * w], [x + 0.7 * w, y + 0.4 * w]]
        det = Detection((x, y, w, w), 0.9, np.array(eyes + [[x, y]] * 4), "blazeface6")
        got = align_face(img, det, 40, 1.19, (0.0, -0.1))
        side = w * 1.19
        mid = int(min(max(round(side), 40), 1024))
        full = cv2.warpAffine(gray, crop_matrix((x + w / 2, y + w / 2 - 0.1 * w), side, mid, got.angle), (mid, mid),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        assert np.array_equal(got.image, resize_gray(full, 40))
    # a face in the middle of a large frame reads a small part of it
    part, corner = source_window(img, crop_matrix((320, 180), 60, 60), 60)
    assert part.shape[:2] == (65, 65) and corner == (288, 148)
