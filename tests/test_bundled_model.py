"""The bundled default model: loads with no argument and no download, and reproduces its model card."""

import json

import numpy as np
import pytest

from ferkit.core.labels import EMOTIONS
from ferkit.evaluate import evaluate
from ferkit.infer.classifier import DEFAULT_MODEL, EmotionClassifier

CARD = DEFAULT_MODEL.with_suffix(".json")


def test_default_model_ships_and_predicts():
    assert DEFAULT_MODEL.exists() and DEFAULT_MODEL.stat().st_size < 20e6
    clf = EmotionClassifier()
    assert clf.classes == EMOTIONS
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    p = clf.predict_proba(faces)
    assert p.shape == (4, 7)
    np.testing.assert_allclose(p.sum(1), 1.0)


def test_model_card_is_complete():
    card = json.loads(CARD.read_text())
    assert card["file"] == DEFAULT_MODEL.name
    assert card["training"]["command"].startswith("ferkit train")
    for key in ("test_tta_none", "test_tta_ten_crop", "cross_ckplus_all_tta_none"):
        assert key in card["evaluation"]
    assert DEFAULT_MODEL.with_suffix(".md").exists()


@pytest.mark.data
def test_reproduces_model_card_privatetest_accuracy(fer2013_path):
    card = json.loads(CARD.read_text())
    for tta in ("none", "flip"):  # one and two views: the card reproduced in seconds, not minutes
        report = evaluate(EmotionClassifier(), fer2013_path, split="test", tta=tta)
        assert report["n"] == 3589
        assert abs(report["accuracy"] - card["evaluation"][f"test_tta_{tta}"]["accuracy"]) <= 0.003
