import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from ferkit.core.labels import CKPLUS_CLASSES, EMOTIONS
from ferkit.data import FaceDataset
from ferkit.evaluate import classification_metrics, evaluate, expected_calibration_error, write_report


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


def test_evaluate_checks_its_options_and_inputs(toy_dataset):
    from ferkit.core.errors import InputError, OptionError

    clf = FixedClassifier()
    small = FaceDataset(np.zeros((3, 8, 8), np.uint8), [0, 1, 2], EMOTIONS)
    with pytest.raises(OptionError, match="evaluate.split must be one of train, val, test, all; got 'dev'"):
        evaluate(clf, small, split="dev")
    with pytest.raises(OptionError, match="evaluate.tta must be one of none, flip, ten_crop"):
        evaluate(clf, small, split="all", tta="mirror")
    with pytest.raises(OptionError, match="evaluate.batch_size must be >= 1"):
        evaluate(clf, small, split="all", batch_size=0)
    with pytest.raises(OptionError, match="no official 'test' split"):
        evaluate(clf, small, split="test")
    with pytest.raises(InputError, match="images are 48x48, the model expects 8x8 faces"):
        evaluate(clf, toy_dataset, split="all")
    contempt_only = FaceDataset(np.zeros((2, 8, 8), np.uint8), [7, 7], CKPLUS_CLASSES, name="ck")
    with pytest.raises(InputError, match=r"ck: none of its classes .* is among the model's"):
        evaluate(clf, contempt_only, split="all")


def test_evaluate_in_batches_with_progress_gives_the_same_report(capsys):
    images = np.stack([np.full((8, 8), v, np.uint8) for v in range(50)])
    ds = FaceDataset(images, np.arange(50) % 7, EMOTIONS)
    whole = evaluate(FixedClassifier(), ds, split="all")
    batched = evaluate(FixedClassifier(), ds, split="all", batch_size=8, progress=True)
    assert "evaluating" in capsys.readouterr().err
    assert batched == whole and whole["n"] == 50


def test_report_paths_and_write_report_make_folders(tmp_path):
    from ferkit.core.errors import OptionError
    from ferkit.evaluate.evaluator import report_paths

    out = tmp_path / "deep" / "er" / "report.json"
    assert report_paths(out) == (out, out.with_name("report.md"), out.with_name("report_confusion.png"))
    with pytest.raises(OptionError, match="must end in .json"):
        report_paths(tmp_path / "report.md")
    probs, y = random_probs(20, 7)
    r = classification_metrics(y, probs, EMOTIONS) | {"model": "m.onnx", "dataset": "d", "split": "all", "tta": "none"}
    write_report(r, *report_paths(out))
    assert json.loads(out.read_text())["n"] == 20 and (out.parent / "report.md").read_text().startswith("# Evaluation")


def test_no_samples_is_an_input_error():
    from ferkit.core.errors import InputError

    with pytest.raises(InputError, match="no samples"):
        classification_metrics(np.zeros(0, int), np.zeros((0, 7)), EMOTIONS)


def test_evaluate_modules_import_matplotlib_only_when_drawing():
    import subprocess
    import sys

    code = ("import sys, ferkit.evaluate, ferkit.evaluate.plots; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_two_class_model_on_a_one_class_split():
    """A two-class model evaluated where only one class occurs (a small harvested test split)."""
    from ferkit.evaluate.metrics import classification_metrics

    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    m = classification_metrics(np.array([0, 0, 0]), probs, ("happy", "sad"))
    assert m["accuracy"] == pytest.approx(2 / 3) and m["top1_accuracy"] == pytest.approx(2 / 3)
