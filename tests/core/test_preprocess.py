import numpy as np
import pytest

from ferkit.core.preprocess import model_input, tta_views
from ferkit.infer.classifier import EmotionClassifier, softmax

PRE = {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}


def test_model_input_is_normalised_center_crop():
    faces = np.arange(2 * 48 * 48).reshape(2, 48, 48).astype(np.uint8)
    x = model_input(faces, PRE)
    assert x.shape == (2, 1, 40, 40) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], (faces[0, 4:44, 4:44] / 255 - 0.5) / 0.25, atol=1e-6)


def test_tta_views():
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    assert len(tta_views(faces, PRE, "none")) == 1
    flip = tta_views(faces, PRE, "flip")
    assert len(flip) == 2 and np.array_equal(flip[1], flip[0][..., ::-1])
    ten = tta_views(faces, PRE, "ten_crop")
    assert len(ten) == 10 and all(v.shape == (3, 1, 40, 40) for v in ten)
    with pytest.raises(ValueError, match="unknown TTA"):
        tta_views(faces, PRE, "twenty")
    with pytest.raises(ValueError, match="expected"):
        model_input(np.zeros((2, 40, 40), np.uint8), PRE)


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(p, [[1.0, 0.0], [0.5, 0.5]])


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        EmotionClassifier(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="not a loadable ONNX"):
        EmotionClassifier(bad)
