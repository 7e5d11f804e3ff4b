import csv
import json

import pytest

from ferkit.cli import main
from ferkit.core.labels import EMOTIONS
from ferkit.video.synthetic import Sprite, make_test_video, sample_face


def harvest_dataset(folder):
    """A minimal harvest (state and manifest) of two videos: one sad, one angry."""
    folder.mkdir()
    state = {"classes": list(EMOTIONS), "videos": {"v1-aa": {"path": "/x/one.mp4", "duration_s": 2.0, "complete": True},
                                                    "v2-bb": {"path": "/x/two.mp4", "duration_s": 3.0,
                                                              "complete": False}}}
    (folder / "harvest.json").write_text(json.dumps(state))
    with (folder / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["video", "track"] + [f"p_{c}" for c in EMOTIONS])
        w.writeheader()
        for vid, track, top in (("v1-aa", 0, "sad"), ("v1-aa", 1, "sad"), ("v2-bb", 0, "angry")):
            w.writerow({"video": vid, "track": track, **{f"p_{c}": (0.7 if c == top else 0.05) for c in EMOTIONS}})


def test_report_over_analyze_summaries_and_a_harvest(tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    make_test_video(video, [Sprite(sample_face(150), (100, 100), (200, 150))], seconds=1.0, fps=10)
    results = tmp_path / "results"
    assert main(["analyze", str(video), "--out-dir", str(results), "--no-progress"]) == 0
    harvest_dataset(results / "harvested")
    capsys.readouterr()
    assert main(["report", str(results), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["video"], r["kind"], r["dominant"]) for r in rows] == [
        ("clip.mp4", "analyze", "happy"), ("one.mp4", "harvest", "sad"), ("two.mp4", "harvest", "angry")]
    for r in rows:
        assert r["share_positive"] + r["share_neutral"] + r["share_negative"] == pytest.approx(1.0, abs=1e-3)
    assert rows[1]["faces"] == 2 and rows[1]["tracks"] == 2 and rows[1]["share_negative"] == pytest.approx(0.85)
    assert (results / "collection_emotions.png").stat().st_size > 5000
    assert "| one.mp4 | harvest | sad |" in (results / "collection.md").read_text()
    assert main(["report", str(results)]) == 2  # an earlier report is kept
    assert "exist" in capsys.readouterr().err
    assert main(["report", str(results), "--overwrite"]) == 0


def test_a_folder_without_results_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no video results" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
