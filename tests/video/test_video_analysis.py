import json

import numpy as np
import pytest

from ferkit import Recognizer, VideoOptions
from ferkit.core.errors import InputError, OutputExistsError, ResumeError
from ferkit.core.video_file import VideoReader
from ferkit.faces import iou_matrix
from ferkit.infer.tables import read_records
from ferkit.video.loop import VideoInterrupted, analyze_source
from ferkit.video.outputs import VideoOutputs
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


def test_auto_schedule_matches_the_detector_on_every_frame(recognizer, crossing_video, monkeypatch):
    """The default schedule's tolerance (README, "Video throughput"): every face the detector finds
    on every frame is found in the same frame, except a face that appears while others are tracked,
    found at the next whole-frame search (within scan_every_s); at most 2% more faces (half-hidden
    ones the closer look still finds); boxes overlap the every-frame ones
    by IoU >= 0.85 on average; raw probabilities differ by <= 0.02 on average; the top emotion is
    the same for >= 95% of faces; and the whole frame is searched far less often."""
    from ferkit.video.agreement import compare_results

    path, _ = crossing_video
    every = list(recognizer.analyze_video(path, VideoOptions(detect_every=1)))
    scans = []
    detect = recognizer.pipeline.detect
    monkeypatch.setattr(recognizer.pipeline, "detect", lambda bgr: scans.append(1) or detect(bgr))
    auto = list(recognizer.analyze_video(path, VideoOptions()))
    agreement = compare_results(every, auto)
    # extra: at most a couple of half-hidden faces the closer look still finds (A, behind B at frame 18)
    assert agreement.frames == 90 and agreement.extra <= 2
    assert agreement.box_iou_mean >= 0.85 and agreement.prob_mae <= 0.02 and agreement.same_label >= 0.95
    missed = [r.frame for r, a in zip(every, auto) if len(a.faces) < len(r.faces)]
    # B, hidden behind A while they cross, comes out at frame 23; the next search (0.5 s after the one at
    # frame 15) finds it; every frame with one face has it
    assert missed == list(range(23, 30))
    assert all(len(a.faces) >= len(r.faces) for r, a in zip(every, auto) if len(r.faces) <= 1)
    assert len(scans) < 40  # 90 frames; nothing tracked from 2.0 to 2.4 s means a search on each of those
    assert {f.track_id for r in auto for f in r.faces} == {f.track_id for r in every for f in r.faces}


def test_a_still_face_keeps_its_box_between_and_across_scans(recognizer, face, tmp_path):
    path = tmp_path / "still.mp4"
    make_test_video(path, [Sprite(face, (200, 120), (200, 120))], 640, 480, 30, 1.5)
    results = list(recognizer.analyze_video(path))  # whole-frame searches at frames 0, 15 and 30
    assert all(len(r.faces) == 1 for r in results)
    # the first frame of the encoded video differs a little from the ones after it
    assert len({tuple(r.faces[0].box) for r in results[1:]}) == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_outputs_and_summary(recognizer, crossing_video, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path, _ = crossing_video
    out = VideoOutputs.in_folder(tmp_path, "crossing", fmt, tmp_path / "crossing.annotated.mp4")
    summary = analyze_source(recognizer, str(path), out, VideoOptions(every=2), progress=False)
    records = read_records(out.rows)
    assert [r["frame"] for r in records] == list(range(0, 90, 2))
    faces = [f for r in records for f in r["faces"]]
    assert set(faces[0]) >= {"track_id", "box", "emotions", "emotions_raw", "label", "sentiment"}
    assert not out.state.exists()  # a finished run leaves no resume state
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
    with pytest.raises(OutputExistsError):
        analyze_source(recognizer, str(path), out, progress=False)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, face):
    """8 s at 15 fps: one face drifting (a long track with smoothing state worth restoring)."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    make_test_video(path, [Sprite(face, (20, 60), (300, 120), 0.0, 8.0)], 480, 320, 15, 8.0)
    return path


@pytest.mark.parametrize("fmt,detect_every", [("jsonl", "auto"), ("csv", 3), ("parquet", "auto")])
def test_interrupt_and_resume_equal_an_uninterrupted_run(recognizer, long_video, tmp_path, fmt, detect_every,
                                                         monkeypatch):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    options = VideoOptions(every=2, detect_every=detect_every, smoothing_half_life_s=1.0)
    full = VideoOutputs.in_folder(tmp_path / "full", "v", fmt)
    analyze_source(recognizer, str(long_video), full, options, progress=False)
    part = VideoOutputs.in_folder(tmp_path / "part", "v", fmt, tmp_path / "part" / "v.mp4")
    # Ctrl-C in the middle of the 24th frame: the stream has already tracked it, but not classified it
    calls = {"n": 0}
    from ferkit.infer.pipeline import FacePipeline

    original = FacePipeline.classify

    def classify_then_stop(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 24:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(FacePipeline, "classify", classify_then_stop)
    with pytest.raises(VideoInterrupted) as stop:
        analyze_source(recognizer, str(long_video), part, options, progress=False)
    monkeypatch.setattr(FacePipeline, "classify", original)
    assert not stop.value.summary["complete"] and stop.value.summary["frames_sampled"] == 23
    assert json.loads(part.state.read_text())["records"] == 23
    assert json.loads(part.summary.read_text())["complete"] is False
    assert part.state.exists()
    summary = analyze_source(recognizer, str(long_video), part, options, resume=True, progress=False)
    assert summary["complete"] and summary["frames_sampled"] == 60 and not part.state.exists()
    # the annotated video of the first part is kept; the rest went beside it
    assert (tmp_path / "part" / "v.mp4").exists() and (tmp_path / "part" / "v.from-frame-45.mp4").exists()
    # the very same records: frames, track ids, boxes, smoothed and raw probabilities
    assert read_records(part.rows) == read_records(full.rows)
    assert summary["per_track"] == json.loads(full.summary.read_text())["per_track"]
    # resuming a finished run does nothing
    assert analyze_source(recognizer, str(long_video), part, options, resume=True, progress=False)["complete"]


def test_a_killed_run_resumes_from_its_last_saved_state(recognizer, long_video, tmp_path):
    """A run killed without warning (no Ctrl-C handling) resumes from the last state it saved,
    cutting away rows written after it."""
    options = VideoOptions(every=2)
    full = VideoOutputs.in_folder(tmp_path / "full", "v")
    analyze_source(recognizer, str(long_video), full, options, progress=False)
    part = VideoOutputs.in_folder(tmp_path / "part", "v")
    analyze_source(recognizer, str(long_video), part, options, progress=False, max_frames=20, state_every_s=0)
    saved = json.loads(part.state.read_text())
    assert saved["frames_done"] == 38 and saved["records"] == 20
    with open(part.rows, "a") as fh:  # rows written after the saved state, and half a line
        fh.write(json.dumps(read_records(full.rows)[20]) + "\n" + '{"frame": 42, "ti')
    analyze_source(recognizer, str(long_video), part, options, resume=True, progress=False)
    assert read_records(part.rows) == read_records(full.rows)


def test_resume_refuses_another_video_or_other_options(recognizer, long_video, crossing_video, tmp_path):
    part = VideoOutputs.in_folder(tmp_path, "v")
    analyze_source(recognizer, str(long_video), part, VideoOptions(every=2), progress=False, max_frames=5)
    other = tmp_path / "renamed" / "long.mp4"  # same name, other content
    other.parent.mkdir()
    other.write_bytes(crossing_video[0].read_bytes())
    with pytest.raises(ResumeError, match="another input"):
        analyze_source(recognizer, str(other), part, VideoOptions(every=2), resume=True, progress=False)
    with pytest.raises(ResumeError, match="every: 2 then, 3 now"):
        analyze_source(recognizer, str(long_video), part, VideoOptions(every=3), resume=True, progress=False)
    with pytest.raises(ResumeError, match="tta"):
        analyze_source(Recognizer(tta="flip"), str(long_video), part, VideoOptions(every=2), resume=True,
                       progress=False)
    # the rows were not touched by the refused attempts
    assert len(read_records(part.rows)) == 5


def test_a_video_with_no_face(recognizer, tmp_path, face):
    path = tmp_path / "empty_scene.avi"
    make_test_video(path, [], 320, 240, 10, 1.0)
    out = VideoOutputs.in_folder(tmp_path, "empty_scene")
    summary = analyze_source(recognizer, str(path), out, progress=False)
    assert summary["frames_sampled"] == 10 and summary["tracks"] == 0 and summary["overall"] is None
    assert not out.timeline.exists()
    assert all(r["faces"] == [] for r in read_records(out.rows))


def test_outputs_never_replace_the_input(recognizer, crossing_video):
    path, _ = crossing_video
    with pytest.raises(OutputExistsError, match="may not be the input"):
        analyze_source(recognizer, str(path), VideoOutputs(annotated=path), overwrite=True, progress=False)


def test_streams_have_their_own_state_and_check_timestamps(recognizer, face):
    canvas = np.full((360, 480, 3), 70, np.uint8)
    ids = []
    with recognizer.open_stream(VideoOptions(smoothing_half_life_s=0.2)) as stream:
        for i in range(5):
            frame = canvas.copy()
            frame[50 : 50 + 150, 20 + 10 * i : 170 + 10 * i] = face
            result = stream.process(frame, i / 30)
            ids.append([f.track_id for f in result])
        assert ids == [[0]] * 5 and result.frame == 4
        with pytest.raises(InputError, match="must increase"):
            stream.process(canvas, 0.0)
        for bad in (float("nan"), float("inf"), "soon"):
            with pytest.raises(InputError, match="timestamp"):
                stream.process(canvas, bad)
    with pytest.raises(InputError, match="closed"):
        stream.process(canvas, 1.0)
    with recognizer.open_stream() as fresh:  # a new stream starts from nothing
        assert len(fresh.process(canvas, 0.0)) == 0


def test_one_stream_from_several_threads_is_serialised(recognizer, face):
    import threading

    frame = np.full((240, 320, 3), 70, np.uint8)
    frame[40:190, 80:230] = face
    stream = recognizer.open_stream()
    errors, results = [], []
    clock = iter(np.arange(1000) / 30)
    lock = threading.Lock()

    def feed():
        for _ in range(6):
            with lock:
                t = next(clock)
            try:
                results.append(stream.process(frame, t))
            except InputError as exc:  # a later timestamp may overtake an earlier one: refused, clearly
                errors.append(str(exc))

    threads = [threading.Thread(target=feed) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) + len(errors) == 18 and len(results) >= 6
    assert all("must increase" in e for e in errors)
    assert {f.track_id for r in results for f in r} == {0}  # state never torn: one face, one track


def test_recognizer_closes(face):
    with Recognizer() as rec:
        assert len(rec.analyze_image(np.full((100, 100, 3), 70, np.uint8))) == 0
    with pytest.raises(InputError, match="closed"):
        rec.analyze_image(np.zeros((10, 10, 3), np.uint8))


def test_two_faces_far_apart_in_720p(recognizer, tmp_path, face):
    path = tmp_path / "wide.mp4"
    sprites = [Sprite(face, (40, 200), (40, 200)), Sprite(face, (1080, 300), (1000, 300))]
    make_test_video(path, sprites, 1280, 720, 25, 0.4)
    results = list(recognizer.analyze_video(path))
    assert all(len(r.faces) == 2 for r in results)
    assert [f.track_id for f in results[-1].faces] == [0, 1]


def test_a_truncated_video_is_analysed_and_reported_incomplete(recognizer, tmp_path, face):
    path = tmp_path / "cut.avi"
    make_test_video(path, [Sprite(face, (20, 40), (120, 40))], 320, 240, 15, 2.0)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    out = VideoOutputs.in_folder(tmp_path / "out", "cut")
    summary = analyze_source(recognizer, str(path), out, progress=False)
    assert summary["complete"] is False and summary["truncated"] is True
    assert summary["frames_declared"] == 30 and 5 < summary["frames_read"] < 30
    assert summary["frames_sampled"] == summary["frames_read"] and summary["tracks"] == 1
    assert json.loads(out.summary.read_text())["complete"] is False


def test_corrupt_frames_in_the_middle_are_skipped_and_counted(recognizer, tmp_path):
    from ferkit.video.writer import VideoWriter

    path = tmp_path / "damaged.avi"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 10, 64, 48) as w:  # noisy frames: every JPEG is large, so damage hits data
        for _ in range(40):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start : start + 300] = np.random.default_rng(7).integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    summary = analyze_source(recognizer, str(path), VideoOutputs(), progress=False)
    assert summary["skipped_frames"] >= 1 and summary["frames_sampled"] + summary["skipped_frames"] == 40
    assert summary["complete"]  # the rest of the file was analysed
    frames = [r.frame for r in recognizer.analyze_video(path)]
    assert frames == sorted(set(frames)) and frames[-1] == 39  # right numbers after the damage


def test_results_shorter_than_their_resume_state_are_refused(recognizer, long_video, tmp_path):
    part = VideoOutputs.in_folder(tmp_path, "v", "json")
    analyze_source(recognizer, str(long_video), part, VideoOptions(every=2), progress=False, max_frames=10)
    records = json.loads(part.rows.read_text())
    part.rows.write_text(json.dumps(records[:6]))  # 4 records lost after the state was saved
    with pytest.raises(ResumeError, match="holds 6 records where its resume state says 10"):
        analyze_source(recognizer, str(long_video), part, VideoOptions(every=2), resume=True, progress=False)
    part.state.write_text("{}")
    with pytest.raises(ResumeError, match="another ferkit version|damaged"):
        analyze_source(recognizer, str(long_video), part, VideoOptions(every=2), resume=True, progress=False)
