import cv2
import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib is optional: pip install ferkit[dlib]")

from ferkit.faces.align import align_face, region_crops
from ferkit.faces.dlib_models import landmarks_68, model_file


def test_model_file_is_found_without_importing_the_package():
    assert model_file("shape_predictor_68_face_landmarks.dat").stat().st_size > 1_000_000
    with pytest.raises(FileNotFoundError):
        model_file("no_such_model.dat")


def test_landmarks_on_a_48px_face_crop(astronaut, astronaut_face):
    """As for FER2013 and CK+ faces: the whole crop as the face box."""
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    face = align_face(gray, astronaut_face, 48, scale=1.1).image
    pts = landmarks_68(face, (0, 0, 48, 48))
    assert pts.shape == (68, 2)
    right_eye, left_eye, mouth = pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)
    assert right_eye[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < mouth[1]
    assert 0 < mouth[1] < 48 and abs(mouth[0] - 24) < 8
    crops = region_crops(face, pts, "ibug68")
    assert crops["eyes"].shape == (32, 64) and crops["mouth"].shape == (32, 48)
    assert np.std(crops["mouth"]) > 5  # not an empty border region
