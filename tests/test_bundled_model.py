"""The bundled models: each loads by name with no download, has a complete model card, and reproduces
its card's PrivateTest accuracy; everything in weights/ stays within 30 MB."""

import json

import numpy as np
import pytest

from ferkit import Recognizer, RecognizerOptions
from ferkit.core.labels import EMOTIONS
from ferkit.evaluate import evaluate
from ferkit.infer.classifier import BUNDLED_MODELS, DEFAULT_MODEL, WEIGHTS_DIR, EmotionClassifier

NAMES = sorted(BUNDLED_MODELS)


def card(name: str) -> dict:
    return json.loads(BUNDLED_MODELS[name].with_suffix(".json").read_text())


def test_default_model_ships_and_predicts():
    assert DEFAULT_MODEL == BUNDLED_MODELS["default"]
    clf = EmotionClassifier()
    assert clf.classes == EMOTIONS
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    p = clf.predict_proba(faces)
    assert p.shape == (4, 7)
    np.testing.assert_allclose(p.sum(1), 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_each_bundled_model_loads_by_name_from_the_package(name, monkeypatch):
    # no network: a download would fail here
    monkeypatch.setattr("socket.socket.connect", lambda *a: (_ for _ in ()).throw(OSError("no network in tests")))
    path = BUNDLED_MODELS[name]
    assert path.parent == WEIGHTS_DIR and path.is_file()
    with Recognizer(RecognizerOptions(model=name)) as rec:
        assert rec.options.model_path == path and rec.classes == EMOTIONS
        faces = rec.analyze_image(np.full((96, 96, 3), 128, np.uint8)).faces
        assert faces == []  # a blank picture: no face, no error
    probs = EmotionClassifier(path).predict_proba(np.random.default_rng(1).integers(0, 256, (3, 48, 48), np.uint8))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_model_cards_are_complete(name):
    c = card(name)
    assert c["file"] == BUNDLED_MODELS[name].name and BUNDLED_MODELS[name].with_suffix(".md").exists()
    assert c["training"]["command"].startswith("ferkit ")
    for key in ("val", "test_tta_none", "test_tta_flip", "cross_ckplus_all_tta_none"):
        assert 0.0 < c["evaluation"][key]["accuracy"] <= 1.0, key
    speed = c["speed"]
    assert speed["faces_per_second_batch1"] > 0 and speed["faces_per_second_batch64"] > 0 and speed["macs"] > 0
    if "int8" in name or name in ("fast", "ensemble"):
        q = c["compression"]["quantization"]
        assert q["reduce_range"] is True
        # int8 beside fp32 on the host that quantized it: speed and validation accuracy, and int8 was faster
        assert q["faster"] == "int8" and set(q["faces_per_second"]) == set(q["val_accuracy"]) == {"fp32", "int8"}
        assert abs(q["val_accuracy"]["int8"] - q["val_accuracy"]["fp32"]) < 0.01


def test_fast_models_are_the_pruned_distilled_default():
    fast = card("fast")
    assert {"pruning", "distillation", "quantization"} <= set(fast["compression"])
    assert card("fast-fp32")["compression"].keys() >= {"pruning", "distillation"}
    assert fast["speed"]["macs"] < card("default")["speed"]["macs"] / 3


def test_weights_stay_within_30_mb():
    assert sum(f.stat().st_size for f in WEIGHTS_DIR.iterdir() if f.is_file()) <= 30e6


@pytest.mark.data
@pytest.mark.parametrize("name", NAMES)
def test_reproduces_model_card_privatetest_accuracy(name, fer2013_path):
    expected = card(name)["evaluation"]
    for tta in ("none", "flip"):  # one and two views: the card reproduced in seconds, not minutes
        report = evaluate(EmotionClassifier(BUNDLED_MODELS[name]), fer2013_path, split="test", tta=tta)
        assert report["n"] == 3589
        assert abs(report["accuracy"] - expected[f"test_tta_{tta}"]["accuracy"]) <= 0.003
