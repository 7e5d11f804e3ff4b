import json

import numpy as np
import pytest
import torch

from ferkit.core.labels import EMOTIONS
from ferkit.export import export_onnx, max_abs_difference
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models import create
from ferkit.models.checkpoint import save_checkpoint

PRE = {"image_size": 48, "input_size": 40, "mean": 0.5, "std": 0.25}


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create("vgg_compact", widths=(8, 16, 16))
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    return save_checkpoint(tmp_path / "m.pt", model, EMOTIONS, PRE)


def test_onnx_matches_pytorch(tmp_path, checkpoint):
    out = export_onnx(checkpoint, tmp_path / "m.onnx")
    assert max_abs_difference(checkpoint, out, n=5) < 1e-4
    faces = np.random.default_rng(1).integers(0, 256, (9, 48, 48), dtype=np.uint8)
    p_onnx = EmotionClassifier(out).predict_proba(faces, tta="ten_crop", batch_size=4)
    p_torch = EmotionClassifier(checkpoint).predict_proba(faces, tta="ten_crop")
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-5)
    np.testing.assert_allclose(p_onnx.sum(1), 1.0)


def test_onnx_metadata_and_no_overwrite(tmp_path, checkpoint):
    out = export_onnx(checkpoint, tmp_path / "m.onnx")
    clf = EmotionClassifier(out)
    assert clf.classes == EMOTIONS and clf.preprocess == PRE and clf.backend == "onnxruntime"
    assert json.dumps(clf.info)
    with pytest.raises(FileExistsError):
        export_onnx(checkpoint, out)
    export_onnx(checkpoint, out, overwrite=True)


def test_export_checks_before_work(tmp_path, checkpoint):
    from ferkit.core.errors import OptionError, OutputExistsError
    from ferkit.export.onnx import opset_range

    before = checkpoint.read_bytes()
    with pytest.raises(OutputExistsError, match="is the checkpoint"):
        export_onnx(checkpoint, checkpoint, overwrite=True)
    assert checkpoint.read_bytes() == before
    lo, hi = opset_range()
    assert lo <= 17 <= hi
    with pytest.raises(OptionError, match="opset"):
        export_onnx(checkpoint, tmp_path / "m.onnx", opset=hi + 1)
    with pytest.raises(OptionError, match=".onnx"):
        export_onnx(checkpoint, tmp_path / "other.pt")
    assert not (tmp_path / "m.onnx").exists()
