import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from ferkit.data import FaceDataset
from ferkit.evaluate import classification_metrics, evaluate, expected_calibration_error, write_report
from ferkit.core.labels import CKPLUS_CLASSES, EMOTIONS


def random_probs(n, k, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random((n, k)) ** 3
    return p / p.sum(1, keepdims=True), rng.integers(0, k, n)


def test_metrics_match_scikit_learn():
    probs, y = random_probs(300, 7)
    m = classification_metrics(y, probs, EMOTIONS)
    pred = probs.argmax(1)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=range(7)).tolist()
    top2 = np.mean([yy in np.argsort(-p)[:2] for p, yy in zip(probs, y)])
    assert m["top2_accuracy"] == pytest.approx(top2)
    assert m["top1_accuracy"] == pytest.approx(m["accuracy"])
    assert m["n"] == 300 and set(m["per_class"]) == set(EMOTIONS)


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    # bin 0.9: acc 0.5 conf 0.9 -> 0.4 * 0.5; bin 0.6: acc 1.0 conf 0.6 -> 0.4 * 0.5
    assert expected_calibration_error(y, probs) == pytest.approx(0.4)


class FixedClassifier:
    """Stands in for EmotionClassifier: predicts a fixed class per image by its mean pixel."""

    classes = EMOTIONS
    image_size = 8
    path = "fixed"

    def predict_proba(self, faces, tta="none", batch_size=256):
        probs = np.full((len(faces), 7), 0.01)
        probs[np.arange(len(faces)), faces.reshape(len(faces), -1)[:, 0] % 7] = 0.94
        return probs


def test_cross_dataset_drops_contempt_and_reports_it(tmp_path, monkeypatch):
    import ferkit.evaluate.evaluator as ev

    monkeypatch.setattr(ev, "EmotionClassifier", FixedClassifier)
    labels = np.array([0, 3, 7, 7, 5])
    images = np.stack([np.full((8, 8), v, np.uint8) for v in [0, 3, 6, 3, 1]])
    ds = FaceDataset(images, labels, CKPLUS_CLASSES, groups=np.array(["a", "b", "c", "d", "e"]))
    r = evaluate(FixedClassifier(), ds, split="all")
    assert r["n"] == 3 and r["accuracy"] == pytest.approx(2 / 3)
    assert r["unmapped"]["contempt"]["n"] == 2
    assert r["unmapped"]["contempt"]["predicted"]["neutral"] == 1
    assert r["unmapped"]["contempt"]["predicted"]["happy"] == 1
    write_report(r, tmp_path / "r.json", tmp_path / "r.md", tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 1000
    assert "contempt" in (tmp_path / "r.md").read_text()
