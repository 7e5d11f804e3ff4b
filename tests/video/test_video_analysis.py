import json

import numpy as np
import pytest

from ferkit import Recognizer
from ferkit.faces import iou_matrix
from ferkit.video import VideoOptions, VideoReader
from ferkit.video.results import FrameRowWriter, read_rows
from ferkit.video.run import VideoInterrupted, VideoOutputs, analyze_video_file
from ferkit.video.synthetic import Sprite, make_test_video


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def test_tracks_timestamps_and_gap(recognizer, crossing_video):
    path, truth = crossing_video
    results = list(recognizer.analyze_video(path))
    assert len(results) == 90
    assert np.allclose([r.time_s for r in results], np.arange(90) / 30, atol=2e-3)
    ids = {}
    for r in results:
        for face in r.faces:
            ids.setdefault(face.track_id, []).append(r.time_s)
            assert any(iou_matrix([face.box], [b])[0, 0] > 0.2 for b in truth[r.frame])  # a face is where one is
    assert len(ids) == 3  # A kept its id through the crossing; C is new
    a, b, c = (ids[k] for k in sorted(ids))
    assert max(a) > 1.8 and max(b) < 1.0 and min(c) > 2.3
    gap = [r for r in results if 2.05 < r.time_s < 2.35]
    assert gap and all(not r.faces for r in gap)
    face = results[0].faces[0]
    assert face.emotions_raw is not None and abs(sum(face.emotions.values()) - 1) < 1e-9


def test_detect_every_k_and_sampling(recognizer, crossing_video):
    path, _ = crossing_video
    every3 = list(recognizer.analyze_video(path, VideoOptions(every=3, detect_every=2, smoothing_half_life_s=0)))
    assert [r.frame for r in every3][:4] == [0, 3, 6, 9]
    assert all(f.emotions_raw is None for r in every3 for f in r.faces)
    assert {f.track_id for r in every3 for f in r.faces} == {0, 1, 2}
    fps5 = list(recognizer.analyze_video(path, VideoOptions(fps=5)))
    assert len(fps5) == 15


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_outputs_and_summary(recognizer, crossing_video, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path, _ = crossing_video
    out = VideoOutputs.in_folder(tmp_path, "crossing", fmt)
    out.annotated = tmp_path / "crossing.annotated.mp4"
    summary = analyze_video_file(recognizer, path, out, VideoOptions(every=2), progress=False)
    rows = read_rows(out.rows)
    assert {r["frame"] for r in rows} == set(range(0, 90, 2))
    face_rows = [r for r in rows if r["track_id"] is not None]
    assert set(face_rows[0]) >= {"frame", "time_s", "track_id", "box", "emotions", "label", "sentiment"}
    assert json.loads(out.summary.read_text()) == json.loads(json.dumps(summary))
    assert summary["complete"] and summary["tracks"] == 3 and summary["frames_sampled"] == 45
    assert summary["main_track"] == 0
    overall = summary["overall"]
    assert overall["dominant_by_mean"] == "happy" and overall["sentiment_by_vote"] == "positive"
    assert sum(overall["vote_emotions"].values()) == pytest.approx(1)
    assert set(summary["per_track"]) == {"0", "1", "2"}
    assert out.timeline.stat().st_size > 10_000
    with VideoReader(out.annotated) as r:
        assert len(list(r)) == 45 and r.info.width == 640
    with pytest.raises(FileExistsError):
        analyze_video_file(recognizer, path, out, progress=False)


def test_interrupt_and_resume_match_an_uninterrupted_run(recognizer, crossing_video, tmp_path, monkeypatch):
    path, _ = crossing_video
    full = VideoOutputs.in_folder(tmp_path / "full", "v")
    analyze_video_file(recognizer, path, full, progress=False)
    part = VideoOutputs.in_folder(tmp_path / "part", "v")
    calls = {"n": 0}
    original = FrameRowWriter.write

    def write_then_stop(self, rows):
        original(self, rows)
        calls["n"] += 1
        if calls["n"] == 40:
            raise KeyboardInterrupt

    monkeypatch.setattr(FrameRowWriter, "write", write_then_stop)
    with pytest.raises(VideoInterrupted) as stop:
        analyze_video_file(recognizer, path, part, progress=False)
    monkeypatch.setattr(FrameRowWriter, "write", original)
    assert not stop.value.summary["complete"] and stop.value.summary["frames_sampled"] == 40
    assert json.loads(part.summary.read_text())["complete"] is False
    assert {r["frame"] for r in read_rows(part.rows)} == set(range(40))
    summary = analyze_video_file(recognizer, path, part, resume=True, progress=False)
    assert summary["complete"] and summary["frames_sampled"] == 90
    a, b = read_rows(full.rows), read_rows(part.rows)
    assert [(r["frame"], r.get("box")) for r in a] == [(r["frame"], r.get("box")) for r in b]
    raw_a = [list(r["emotions_raw"].values()) for r in a if r["track_id"] is not None]
    raw_b = [list(r["emotions_raw"].values()) for r in b if r["track_id"] is not None]
    assert np.allclose(raw_a, raw_b)
    # track ids continue after the ones already written
    before = {r["track_id"] for r in b if r["frame"] < 40 and r["track_id"] is not None}
    after = {r["track_id"] for r in b if r["frame"] >= 40 and r["track_id"] is not None}
    assert min(after) > max(before)


def test_a_video_with_no_face(recognizer, tmp_path, face):
    path = tmp_path / "empty_scene.avi"
    make_test_video(path, [], 320, 240, 10, 1.0)
    out = VideoOutputs.in_folder(tmp_path, "empty_scene")
    summary = analyze_video_file(recognizer, path, out, progress=False)
    assert summary["frames_sampled"] == 10 and summary["tracks"] == 0 and summary["overall"] is None
    assert not out.timeline.exists()
    assert all(r["track_id"] is None for r in read_rows(out.rows))


def test_outputs_never_replace_the_input(recognizer, crossing_video):
    path, _ = crossing_video
    with pytest.raises(ValueError, match="may not be the input"):
        analyze_video_file(recognizer, path, VideoOutputs(annotated=path), overwrite=True, progress=False)


def test_analyze_stream(recognizer, face):
    recognizer.reset_stream()
    canvas = np.full((360, 480, 3), 70, np.uint8)
    ids = []
    for i in range(5):
        frame = canvas.copy()
        frame[50 : 50 + 150, 20 + 10 * i : 170 + 10 * i] = face
        faces = recognizer.analyze_stream(frame, i / 30)
        ids.append([f.track_id for f in faces])
    assert ids == [[0]] * 5
    with pytest.raises(ValueError, match="must not go back"):
        recognizer.analyze_stream(canvas, 0.0)
    recognizer.reset_stream()
    assert recognizer.analyze_stream(canvas, 0.0) == []


def test_two_faces_far_apart_in_720p(recognizer, tmp_path, face):
    path = tmp_path / "wide.mp4"
    sprites = [Sprite(face, (40, 200), (40, 200)), Sprite(face, (1080, 300), (1000, 300))]
    make_test_video(path, sprites, 1280, 720, 25, 0.4)
    results = list(recognizer.analyze_video(path))
    assert all(len(r.faces) == 2 for r in results)
    assert [f.track_id for f in results[-1].faces] == [0, 1]
