"""The region ("prior attention") model: crops from a second input, ONNX with both inputs, training with
cached landmarks, and inference from a live detector's landmarks."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ferkit
from ferkit.cli import main
from ferkit.core.errors import InputError, OptionError
from ferkit.core.regions import DEFAULT_REGIONS, default_regions, mirror_regions, region_views
from ferkit.export import export_onnx, max_abs_difference
from ferkit.infer.classifier import EmotionClassifier
from ferkit.models import count_macs, count_parameters, create
from ferkit.models.checkpoint import save_checkpoint
from ferkit.train.augment import transform_regions

SMALL = {"channels": (4, 8), "hidden": 16, "features": 8, "mlp": 16}
PRE = {"image_size": 48, "input_size": 48, "mean": 0.5, "std": 0.25}


def test_default_size_and_options():
    model = create("regions")
    assert count_parameters(model) == 3_841_607
    assert 20e6 < count_macs(model, 48) < 23e6
    assert count_parameters(create("regions", **SMALL)) < 100_000
    with pytest.raises(OptionError, match="regions.channels must name two"):
        create("regions", channels=(4, 8, 16))
    with pytest.raises(OptionError, match="regions.dropout"):
        create("regions", dropout=1.5)


def test_the_model_sees_only_its_regions():
    torch.manual_seed(0)
    model = create("regions", **SMALL).eval()
    x = torch.randn(2, 1, 48, 48)
    regions = torch.tensor([[[0.1, 0.1, 0.9, 0.4], [0.3, 0.6, 0.7, 0.85]]] * 2)
    with torch.no_grad():
        base = model(x, regions)
        outside = x.clone()
        outside[:, :, 21:26, :] = 5.0  # a band between the eye strip and the mouth
        outside[:, :, 44:, :] = -5.0  # and below the mouth
        torch.testing.assert_close(model(outside, regions), base)
        inside = x.clone()
        inside[:, :, 32:38, 20:28] = 5.0  # in the mouth box
        assert not torch.allclose(model(inside, regions), base)
        # no regions: the fixed-ratio boxes
        torch.testing.assert_close(model(x), model(x, torch.tensor([DEFAULT_REGIONS] * 2)))


def test_region_boxes_follow_flips_crops_and_augmentation():
    r = np.array([[[0.1, 0.2, 0.5, 0.4], [0.3, 0.6, 0.6, 0.9]]], dtype=np.float32)
    np.testing.assert_allclose(mirror_regions(r)[0, 0], [0.5, 0.2, 0.9, 0.4], atol=1e-6)
    views = region_views(r, {"image_size": 48, "input_size": 40, "mean": 0, "std": 1}, "flip")
    assert len(views) == 2
    np.testing.assert_allclose(views[0][0, 0], [(0.1 * 48 - 4) / 40, (0.2 * 48 - 4) / 40, (0.5 * 48 - 4) / 40,
                                                (0.4 * 48 - 4) / 40], atol=1e-6)
    t = torch.from_numpy(r)
    flip = torch.tensor([[[-1.0, 0, 0], [0, 1, 0]]])
    torch.testing.assert_close(transform_regions(t, flip), torch.from_numpy(mirror_regions(r)))
    quarter = torch.tensor([[[0.0, -1, 0], [1, 0, 0]]])  # the output is the input turned by 90 degrees
    turned = transform_regions(t, quarter)[0, 0]
    assert turned.tolist() == pytest.approx([0.2, 0.5, 0.4, 0.9], abs=1e-6)


def test_augmented_boxes_still_hold_the_region():
    """A bright patch marks the box; after random augmentation the moved box still covers it."""
    from ferkit.train.augment import AugmentConfig, augment_batch

    n = 64
    images = torch.zeros(n, 48, 48, dtype=torch.uint8)
    images[:, 10:20, 8:40] = 255
    boxes = torch.tensor([[[8 / 48, 10 / 48, 40 / 48, 20 / 48], [0.3, 0.6, 0.7, 0.9]]]).expand(n, -1, -1)
    cfg = AugmentConfig(erase=0.0, rotate=15.0)
    x, moved = augment_batch(images, 44, cfg, torch.Generator().manual_seed(0), boxes)
    crops = torch.nn.functional.grid_sample(
        x, __import__("ferkit.models.regions", fromlist=["crop_grid"]).crop_grid(moved[:, 0], 16, 32),
        align_corners=False, padding_mode="border")
    centre = crops[:, :, 4:12, 8:24]
    assert centre.mean() > 0.9  # the middle of the moved box is the bright patch
    assert x.mean() < 0.3


def region_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create("regions", **SMALL)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    return save_checkpoint(tmp_path / "regions.pt", model, ferkit.core.labels.EMOTIONS, PRE)


def test_onnx_export_has_both_inputs_and_matches_pytorch(tmp_path):
    pt = region_checkpoint(tmp_path)
    onnx_path = export_onnx(pt, tmp_path / "regions.onnx")
    assert max_abs_difference(pt, onnx_path, n=5) < 1e-4
    clf = EmotionClassifier(onnx_path)
    assert clf.takes_regions and clf.info["inputs"] == ["faces", "regions"]
    faces = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    regions = default_regions(6) + np.float32(0.03)
    for tta in ("none", "flip"):
        np.testing.assert_allclose(clf.predict_proba(faces, tta=tta, regions=regions),
                                   EmotionClassifier(pt).predict_proba(faces, tta=tta, regions=regions), atol=1e-5)
    with pytest.raises(InputError, match=r"regions must be \(N, 2, 4\)"):
        clf.predict_proba(faces, regions=regions[:3])
    with pytest.raises(OptionError, match="opset 16"):
        export_onnx(pt, tmp_path / "old.onnx", opset=13)


def sample_face() -> np.ndarray:
    import cv2

    face = cv2.imread(str(Path(ferkit.__file__).parent / "samples" / "astronaut_face.png"), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)


def test_implausible_or_missing_landmarks_fall_back(monkeypatch, caplog):
    from ferkit.faces import regions as regions_mod

    pts = np.array([[16, 20], [32, 20], [24, 28], [24, 36], [8, 22], [40, 22]], dtype=float)  # blazeface6
    upside_down = pts.copy()
    upside_down[:, 1] = 48 - upside_down[:, 1]
    boxes, fallback = regions_mod.detection_regions([pts, upside_down, None], ["blazeface6"] * 2 + [None], 48)
    assert fallback.tolist() == [False, True, True]
    np.testing.assert_allclose(boxes[1:], default_regions(2))
    assert boxes[0, 0, 1] < boxes[0, 1, 1]  # eyes above the mouth
    monkeypatch.setattr(regions_mod, "dlib_available", lambda: False)
    boxes, fallback = regions_mod.face_regions(np.stack([sample_face()] * 3))
    assert fallback.all() and "dlib is not installed" in caplog.text


def test_regions_found_by_dlib_when_not_given(tmp_path):
    pytest.importorskip("dlib")
    from ferkit.faces.regions import face_regions

    face = sample_face()
    boxes, fallback = face_regions(face[None])
    assert not fallback[0]
    eyes, mouth = boxes[0]
    assert eyes[1] < mouth[1] and 0 <= eyes[0] < 0.3 and 0.7 < eyes[2] <= 1.1
    pt = region_checkpoint(tmp_path)
    clf = EmotionClassifier(pt)
    np.testing.assert_allclose(clf.predict_proba(face), clf.predict_proba(face, regions=boxes[:1]))


def test_train_evaluate_export_and_analyze_a_region_model(tmp_path, capsys):
    pytest.importorskip("dlib")
    from faces_data import write_faces

    npz = write_faces(tmp_path / "faces.npz", n=140)
    out = tmp_path / "run"
    args = ["train", "--data", str(npz), "--out", str(out), "--arch", "regions", "--epochs", "1",
            "--batch-size", "16", "--no-progress", "--set", "model_cfg.channels=[4, 8]", "--set", "model_cfg.hidden=16",
            "--set", "bf16=false"]
    assert main(args) == 0
    record = json.loads((out / "regions.json").read_text())
    assert record[0]["faces"] == 140 and not record[0]["from_cache"] and 0 <= record[0]["fallbacks"] <= 140
    assert (out / record[0]["cache"]).exists()
    assert main([*args, "--overwrite"]) == 0  # the landmarks come from the cache now
    assert json.loads((out / "regions.json").read_text())[0]["from_cache"]
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt"), "--data", str(npz), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 28
    assert main(["export", str(out / "best.pt"), "--out", str(tmp_path / "r.onnx")]) == 0
    capsys.readouterr()
    photo = Path(ferkit.__file__).parent / "samples" / "astronaut.png"
    assert main(["analyze", str(photo), "--model", str(tmp_path / "r.onnx"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["status"] == "ok" and len(result["faces"]) == 1
    assert sum(result["faces"][0]["emotions"].values()) == pytest.approx(1.0)
