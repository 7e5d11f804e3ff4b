"""ferkit harvest on generated videos with known faces: a stand-in classifier labels a face by its
brightness (bright: happy, dark: sad, mid-grey: uncertain), so where each face must land is known."""

import csv
import json

import numpy as np
import pytest

from ferkit.cli import main
from ferkit.core.errors import OptionError, OutputError
from ferkit.core.labels import EMOTIONS
from ferkit.harvest import HarvestOptions, harvest
from ferkit.harvest import harvester as harvester_mod
from ferkit.harvest.report import leakage
from ferkit.harvest.splits import assign_splits
from ferkit.infer.classifier import EmotionClassifier
from ferkit.video.synthetic import Sprite, make_test_video, sample_face

HAPPY, SAD = EMOTIONS.index("happy"), EMOTIONS.index("sad")


def by_brightness(self, faces, tta="none", batch_size=256, member=None, regions=None):
    """Bright faces are happy (0.9), dark ones sad (0.9), in between uncertain (0.45 happy, 0.4 sad)."""
    out = np.full((len(faces), 7), 0.0)
    for i, f in enumerate(np.asarray(faces)):
        m = f.mean()
        if m > 120:
            out[i, HAPPY], out[i, SAD] = 0.9, 0.04
        elif m < 70:
            out[i, SAD], out[i, HAPPY] = 0.9, 0.04
        else:
            out[i, HAPPY], out[i, SAD] = 0.45, 0.4
        out[i] += (1 - out[i].sum()) / 7
    return out


@pytest.fixture(autouse=True)
def stand_in_classifier(monkeypatch):
    monkeypatch.setattr(EmotionClassifier, "predict_proba", by_brightness)


#: shadings (left-right, top-bottom) whose faces differ by 10 or more pHash bits pairwise
PERSONS = [(-0.8, 0.0), (0.4, -0.8), (-0.4, -0.8), (0.8, -0.4), (0.8, 0.8), (0.0, 0.8)]


def face(gain=1.0, side=150, ramp=0.0):
    """The sample face, brightness times ``gain``, shaded by a left-right ramp, or by (left-right,
    top-bottom) ramps (different shadings make faces that a perceptual hash tells apart: another
    "person"; brightness alone does not)."""
    rx, ry = ramp if isinstance(ramp, tuple) else (ramp, 0.0)
    img = sample_face(side).astype(np.float32) * gain
    img *= (1 + rx * np.linspace(-1, 1, side))[None, :, None]
    img *= (1 + ry * np.linspace(-1, 1, side))[:, None, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def video(path, gain=1.0, moving=True, seconds=3.0, sprites=None, ramp=0.0):
    start, end = ((40, 40), (420, 250)) if moving else ((200, 150), (200, 150))
    make_test_video(path, sprites or [Sprite(face(gain, ramp=ramp), start, end)], seconds=seconds, fps=15)
    return path


OPTS = HarvestOptions(fps=3.0, dedupe_bits=4)


def manifest(out):
    with (out / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def six_videos(tmp_path_factory):
    """Three videos of a bright (happy) face and three of a dark (sad) one, harvested."""
    tmp = tmp_path_factory.mktemp("six")
    ramps = (-0.5, 0.0, 0.5)
    videos = [video(tmp / f"bright{i}.mp4", 1.25, ramp=r) for i, r in enumerate(ramps)] + \
             [video(tmp / f"dark{i}.mp4", 0.45, ramp=r) for i, r in enumerate(ramps)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EmotionClassifier, "predict_proba", by_brightness)
        summary = harvest(videos, tmp / "ds", OPTS, progress=False)
    return tmp / "ds", summary


def test_classes_land_in_their_folders_and_each_video_in_one_split(six_videos):
    out, summary = six_videos
    assert not summary["failed"] and len(summary["harvested"]) == 6
    rows = manifest(out)
    kept = [r for r in rows if r["status"] == "kept"]
    assert kept and all((out / r["file"]).is_file() for r in kept)
    for r in kept:
        split, label, _ = r["file"].split("/")
        assert split == r["split"] and label == r["label"]
        assert label == ("happy" if "bright" in r["video_path"] else "sad")
    splits_of = {}
    for r in kept:
        splits_of.setdefault(r["video"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_of.values())
    assert len(splits_of) >= 4 and "train" in {s for v in splits_of.values() for s in v} and len({s for v in splits_of.values() for s in v}) >= 2
    report = json.loads((out / "report.json").read_text())
    assert report["leakage"]["ok"]
    assert sum(report["per_split"]["train"].values()) >= len(kept) // 2
    assert (out / "contact_sheets" / "happy.png").exists() and (out / "contact_sheets" / "sad.png").exists()
    assert (out / "manifest.parquet").exists()


def test_a_still_face_collapses_to_one(tmp_path):
    out = tmp_path / "ds"
    harvest([video(tmp_path / "still.mp4", 1.25, moving=False, seconds=4)], out, OPTS, progress=False)
    kept = [r for r in manifest(out) if r["status"] == "kept"]
    assert len(kept) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["seen"] >= 10 and report["totals"]["duplicate_in_track"] == report["totals"]["seen"] - 1
    # the same still shot in another (shorter) video is a duplicate across the dataset
    again = [Sprite(face(1.25), (200, 150), (200, 150))]
    harvest([video(tmp_path / "again.mp4", sprites=again, seconds=2)], out, OPTS, progress=False)
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["duplicate_across"] == 1 and report["totals"]["kept"] == 1


def test_mirrored_copies_are_duplicates_across_the_dataset():
    from collections import Counter

    from ferkit.harvest.collect import Candidate, dedupe_across, set_hashes

    crop = np.asarray(__import__("cv2").resize(face(1.0)[:, :, 0], (48, 48)))
    probs = np.full(7, 1 / 7)
    made = [Candidate(0, i, 0.0, [0, 0, 1, 1], 0.9, probs, c, None) for i, c in
            enumerate([crop, crop[:, ::-1].copy(), np.rot90(crop).copy()])]
    set_hashes(made)
    counts = Counter()
    kept = dedupe_across(made, [], [], 6, counts)
    assert [c.frame for c in kept] == [0, 2] and counts["duplicate_across"] == 1


def test_uncertain_faces_go_to_review_with_their_probabilities(tmp_path):
    out = tmp_path / "ds"
    harvest([video(tmp_path / "grey.mp4", 0.75)], out, OPTS, progress=False)
    rows = manifest(out)
    assert rows and all(r["status"] == "review" and r["file"].startswith("review/happy/") for r in rows)
    assert all(r["reason"] == "failed min_prob+min_margin" and float(r["p_happy"]) == pytest.approx(0.45 + 0.15 / 7, abs=1e-4)
               for r in rows)
    assert all((out / r["file"]).is_file() for r in rows)


def test_resume_adds_new_videos_without_repeating_old_ones(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    first = [video(tmp_path / "a.mp4", 1.25), video(tmp_path / "b.mp4", 0.45)]
    harvest(first, out, OPTS, progress=False)
    before = manifest(out)
    calls = []
    real = harvester_mod.collect_video

    def counting(path, *a, **kw):
        calls.append(path.name)
        return real(path, *a, **kw)

    monkeypatch.setattr(harvester_mod, "collect_video", counting)
    summary = harvest([*first, video(tmp_path / "c.mp4", 1.25, ramp=0.5)], out, OPTS, progress=False)
    assert calls == ["c.mp4"] and len(summary["skipped"]) == 2
    after = manifest(out)
    assert after[: len(before)] == before and len(after) > len(before)


def test_an_interrupted_harvest_continues(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    videos = [video(tmp_path / "a.mp4", 1.25, ramp=PERSONS[0]), video(tmp_path / "b.mp4", 0.45, ramp=PERSONS[4])]
    real = harvester_mod.collect_video

    def stop_at_b(path, *a, **kw):
        if path.name == "b.mp4":
            raise KeyboardInterrupt
        return real(path, *a, **kw)

    monkeypatch.setattr(harvester_mod, "collect_video", stop_at_b)
    assert harvest(videos, out, OPTS, progress=False)["interrupted"]
    assert {r["video_path"].rsplit("/", 1)[-1] for r in manifest(out)} == {"a.mp4"}
    monkeypatch.setattr(harvester_mod, "collect_video", real)
    summary = harvest(videos, out, OPTS, progress=False)
    assert summary["skipped"] == [str(videos[0])] and summary["harvested"] == [str(videos[1])]
    assert {r["video_path"].rsplit("/", 1)[-1] for r in manifest(out)} == {"a.mp4", "b.mp4"}


def test_bad_inputs_are_reported_and_the_batch_goes_on(tmp_path, capsys):
    good = video(tmp_path / "good.mp4", 1.25)
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00" * 2000)
    (tmp_path / "empty.mp4").write_bytes(b"")
    __import__("shutil").copy(__import__("ferkit.video.synthetic", fromlist=["SAMPLES"]).SAMPLES / "astronaut.png",
                              tmp_path / "photo.png")
    blank = tmp_path / "blank.mp4"
    make_test_video(blank, [], seconds=1.0, fps=10)
    out = tmp_path / "ds"
    code = main(["harvest", str(good), str(tmp_path / "corrupt.mp4"), str(tmp_path / "empty.mp4"),
                 str(tmp_path / "photo.png"), str(tmp_path / "missing.mp4"), str(blank), "--out", str(out),
                 "--fps", "3", "--no-progress"])
    assert code == 1
    printed = capsys.readouterr().out
    for name in ("corrupt.mp4", "empty.mp4", "photo.png", "missing.mp4"):
        assert f"error: {tmp_path / name}" in printed, name
    assert "an image, not a video" in printed and "Traceback" not in printed
    state = json.loads((out / "harvest.json").read_text())
    statuses = {v["path"].rsplit("/", 1)[-1]: v["status"] for v in state["videos"].values()}
    assert statuses["good.mp4"] == "done" and statuses["blank.mp4"] == "no_faces"
    assert statuses["corrupt.mp4"] == "error"
    assert [r for r in manifest(out) if r["status"] == "kept"]


def test_only_missing_inputs_create_nothing(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["harvest", str(tmp_path / "gone.mp4"), "--out", str(out), "--no-progress"]) == 1
    assert "error: " in capsys.readouterr().out and not out.exists()


def test_other_options_or_a_foreign_folder_are_refused(tmp_path):
    out = tmp_path / "ds"
    v = video(tmp_path / "a.mp4", 1.25)
    harvest([v], out, OPTS, progress=False)
    with pytest.raises(OptionError, match="other options.*min_prob 0.6 -> 0.8"):
        harvest([v], out, HarvestOptions(fps=3.0, dedupe_bits=4, min_prob=0.8), progress=False)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty and holds no harvest"):
        harvest([v], foreign, OPTS, progress=False)
    assert (foreign / "x.txt").read_text() == "mine"
    with pytest.raises(OptionError, match="harvest.min_prob"):
        HarvestOptions(min_prob=1.5)
    with pytest.raises(OptionError, match="must leave some training videos"):
        HarvestOptions(val_fraction=0.5, test_fraction=0.5)


def test_split_none_writes_one_folder_of_class_folders(tmp_path):
    out = tmp_path / "ds"
    harvest([video(tmp_path / "a.mp4", 1.25)], out, HarvestOptions(fps=3.0, split="none"), progress=False)
    kept = [r for r in manifest(out) if r["status"] == "kept"]
    assert kept and all(r["file"].startswith("happy/") and r["split"] == "none" for r in kept)


def test_assign_splits_is_grouped_stratified_and_keeps_earlier_choices():
    new = {f"v{i}": {"happy": 10, "sad": 4} for i in range(10)}
    got = assign_splits(new, {}, ["happy", "sad"], 0.2, 0.2)
    counts = {s: sum(1 for v in got.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 2, "test": 2}
    existing = {"train": {"happy": 60, "sad": 24}}
    assert set(assign_splits({"x": {"happy": 10, "sad": 4}}, existing, ["happy", "sad"], 0.2, 0.2).values()) == {"val"}
    assert assign_splits({"empty": {}}, {}, ["happy"], 0.2, 0.2) == {}


def test_leakage_check_finds_videos_and_near_duplicates_across_splits():
    rows = [
        {"status": "kept", "video": "a", "split": "train", "file": "train/x/1.png", "hash": "00ff", "hash_mirror": "1"},
        {"status": "kept", "video": "a", "split": "test", "file": "test/x/2.png", "hash": "f000", "hash_mirror": "2"},
        {"status": "kept", "video": "b", "split": "val", "file": "val/x/3.png", "hash": "00fe", "hash_mirror": "3"},
    ]
    got = leakage(rows, 2)
    assert got["videos_in_several_splits"] == ["a"] and got["near_duplicates_across_splits"] == 1
    assert got["examples"] == [["train/x/1.png", "val/x/3.png"]] and not got["ok"]


def test_stable_keeps_only_labels_that_hold_over_the_track(tmp_path):
    sprites = [Sprite(face(1.25), (100, 100), (200, 150), t0=0.0, t1=1.5),
               Sprite(face(0.45), (200, 150), (300, 200), t0=1.5, t1=3.0)]
    path = video(tmp_path / "change.mp4", sprites=sprites)
    out = tmp_path / "ds"
    harvest([path], out, HarvestOptions(fps=3.0, stable=1, dedupe_bits=-1), progress=False)
    rows = sorted(manifest(out), key=lambda r: int(r["frame"]))
    assert len({r["track"] for r in rows}) == 1
    labels = [r["label"] for r in rows]
    change = labels.index("sad")
    unstable = [r for r in rows if r["status"] == "review"]
    assert [int(r["frame"]) for r in unstable] == [int(rows[change - 1]["frame"]), int(rows[change]["frame"])]
    assert all(r["reason"] == "failed stable" for r in unstable)
    plain = tmp_path / "plain"
    harvest([path], plain, HarvestOptions(fps=3.0, dedupe_bits=-1), progress=False)
    assert all(r["status"] == "kept" for r in manifest(plain))


def test_the_harvested_set_is_a_first_class_dataset(six_videos, tmp_path, capsys, monkeypatch):
    out, _ = six_videos
    monkeypatch.undo()  # the real classifier from here on
    assert main(["data", "info", str(out), "--json", "--no-progress"]) == 0
    info = json.loads(capsys.readouterr().out)
    kept = [r for r in manifest(out) if r["status"] == "kept"]
    assert info["n"] == len(kept) and info["groups"] == len({r["video"] for r in kept})
    assert info["groups_across_splits"] == [] and not info["problems"]
    run = tmp_path / "run"
    assert main(["train", "--data", str(out), "--out", str(run), "--epochs", "1", "--batch-size", "4",
                 "--no-progress", "--set", "model_cfg.widths=[8, 16]", "--set", "bf16=false"]) == 0
    capsys.readouterr()
    split = "test" if any(r["split"] == "test" for r in kept) else "val"
    assert main(["evaluate", str(run / "best.pt"), "--data", str(out), "--split", split, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == sum(r["split"] == split for r in kept)
    # as a study's cross-dataset set: evaluated whole
    from ferkit.evaluate import evaluate

    assert evaluate(run / "best.pt", out, split="all")["n"] == len(kept)


def test_videos_of_one_group_share_a_split_across_runs(tmp_path, capsys):
    videos = [video(tmp_path / f"p{i}.mp4", 1.25 if i % 2 else 0.45, ramp=r) for i, r in enumerate(PERSONS)]
    groups = tmp_path / "groups.csv"
    groups.write_text("video,group\np0.mp4,ann\np1,ann\np2.mp4,bob\np3.mp4,bob\np4.mp4,cy\np5.mp4,ann\n")
    out = tmp_path / "ds"
    code = main(["harvest", *map(str, videos[:4]), "--out", str(out), "--groups", str(groups), "--fps", "3",
                 "--dedupe-bits", "4", "--val-fraction", "0.3", "--test-fraction", "0.3", "--no-progress"])
    assert code == 0
    later = main(["harvest", str(videos[4]), str(videos[5]), str(videos[0]), "--out", str(out), "--groups", str(groups), "--fps",
                  "3", "--dedupe-bits", "4", "--val-fraction", "0.3", "--test-fraction", "0.3", "--no-progress"])
    assert later == 0
    state = json.loads((out / "harvest.json").read_text())
    split_of = {v["path"].rsplit("/", 1)[-1]: (v.get("group"), v.get("split")) for v in state["videos"].values()}
    assert split_of["p0.mp4"][1] == split_of["p1.mp4"][1] == split_of["p5.mp4"][1]  # p5 came a run later
    assert split_of["p2.mp4"][1] == split_of["p3.mp4"][1]
    assert split_of["p0.mp4"][0] == "ann" and split_of["p4.mp4"][0] == "cy"
    assert json.loads((out / "report.json").read_text())["leakage"]["ok"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,person\nx,y\n")
    capsys.readouterr()
    assert main(["harvest", str(videos[0]), "--out", str(tmp_path / "o2"), "--groups", str(bad)]) == 2
    assert "columns video and group" in capsys.readouterr().err


def test_leakage_check_sees_groups_across_splits():
    rows = [{"status": "kept", "video": "a", "split": "train", "file": "1", "hash": "0f0f", "hash_mirror": "1"},
            {"status": "kept", "video": "b", "split": "test", "file": "2", "hash": "f0f0", "hash_mirror": "2"}]
    got = leakage(rows, 2, {"a": "ann", "b": "ann"})
    assert got["groups_in_several_splits"] == ["ann"] and not got["ok"]
