import json

import pytest

from ferkit.cli import main
from ferkit.video.synthetic import Sprite, make_test_video, sample_face


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    face = sample_face(140)
    make_test_video(d / "one.mp4", [Sprite(face, (50, 60), (200, 80))], 480, 360, 15, 1.0)
    make_test_video(d / "two.avi", [Sprite(face, (10, 10), (10, 10)), Sprite(face, (300, 150), (300, 150))],
                    480, 360, 15, 1.0)
    (d / "broken.mp4").write_bytes(b"\x00" * 1000)
    (d / "zero.webm").write_bytes(b"")
    return d


def test_analyze_a_video_folder(videos, tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["analyze", str(videos), "--out-dir", str(out), "--annotate", str(tmp_path / "ann"), "--fps", "5",
                 "--format", "csv", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1  # two files are not readable videos; the others were analysed
    assert "broken.mp4" in err and "zero.webm: empty file" in err
    for stem, tracks in (("one", 1), ("two", 2)):
        summary = json.loads((out / f"{stem}.summary.json").read_text())
        assert summary["tracks"] == tracks and summary["frames_sampled"] == 5 and summary["complete"]
        assert (out / f"{stem}.frames.csv").exists() and (out / f"{stem}.timeline.png").exists()
        assert (tmp_path / "ann" / f"{stem}.annotated.mp4").stat().st_size > 1000
    # existing results are kept unless --overwrite
    assert main(["analyze", str(videos / "one.mp4"), "--out-dir", str(out), "--format", "csv", "--no-progress"]) == 2
    assert "exists" in capsys.readouterr().err


def test_single_video_out_and_annotate_file(videos, tmp_path, capsys):
    rows = tmp_path / "one.jsonl"
    assert main(["analyze", str(videos / "one.mp4"), "--out", str(rows), "--annotate", str(tmp_path / "a.mp4"),
                 "--no-progress"]) == 0
    assert (tmp_path / "one.summary.json").exists() and (tmp_path / "a.mp4").exists()
    lines = rows.read_text().splitlines()
    assert len(lines) == 15 and json.loads(lines[0])["faces"][0]["track_id"] == 0
    assert main(["analyze", str(videos / "one.mp4"), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["tracks"] == 1


def test_score_videos_cli(videos, tmp_path, capsys):
    out = tmp_path / "res"
    main(["analyze", str(videos / "one.mp4"), str(videos / "two.avi"), "--out-dir", str(out), "--fps", "5",
          "--no-progress"])
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\none.mp4,happy\ntwo.avi,sad\n")
    capsys.readouterr()
    assert main(["score-videos", str(out), "--labels", str(labels), "--out", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "2 of 2 labelled videos scored" in text and "| vote | 2 | 0.500" in text
    assert json.loads((tmp_path / "r.json").read_text())["rules"]["mean"]["n"] == 2


def test_webcam_on_a_file_source_with_analyze_flags(videos, tmp_path, capsys):
    assert main(["webcam", str(videos / "one.mp4"), "--annotate", str(tmp_path / "live.mp4"),
                 "--out", str(tmp_path / "live.csv"), "--max-frames", "8", "--every", "2", "--detect-every", "2",
                 "--smooth", "0", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames_sampled"] == 8 and summary["tracks"] == 1
    assert (tmp_path / "live.mp4").exists() and len((tmp_path / "live.csv").read_text().splitlines()) == 9
    assert (tmp_path / "live.summary.json").exists() and (tmp_path / "live.timeline.png").exists()
    frames = [int(line.split(",")[0]) for line in (tmp_path / "live.csv").read_text().splitlines()[1:]]
    assert frames == list(range(0, 16, 2))
    assert main(["webcam", "97", "--no-progress"]) == 2
    assert "97" in capsys.readouterr().err


def test_conflicting_or_wrong_options_are_refused_before_work(videos, tmp_path, capsys):
    one = str(videos / "one.mp4")
    cases = [
        (["--out", str(tmp_path / "a.jsonl"), "--out-dir", str(tmp_path / "d")], "not both"),
        (["--every", "2", "--fps", "5"], "not both"),
        (["--out", str(tmp_path / "y.jsonl"), "--format", "csv"], "does not match"),
        (["--out", str(tmp_path / "v.jsonl"), "--annotate", str(tmp_path / "v.summary.json")], "video file"),
        (["--annotate", str(tmp_path / "x.txt")], "video file"),
        (["--detect-every", "often"], "'auto' or a whole number"),
        (["--detect-every", "0"], "detect_every"),
        (["--scan-every", "-1"], "scan_every_s"),
    ]
    for extra, message in cases:
        assert main(["analyze", one, "--no-progress", *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert list(tmp_path.iterdir()) == []  # refused runs leave nothing behind, not even a folder
    image = tmp_path.parent / "face.png"
    import cv2

    from ferkit.video.synthetic import sample_face

    cv2.imwrite(str(image), sample_face(150))
    assert main(["analyze", str(image), "--fps", "-1"]) == 2  # video options are checked for images too
    assert "fps" in capsys.readouterr().err
    assert main(["analyze", str(image), "--resume"]) == 0
    assert "apply to videos only" in capsys.readouterr().err


def test_resume_refuses_finished_results_of_another_video(videos, tmp_path, capsys):
    rows = tmp_path / "r.jsonl"
    assert main(["analyze", str(videos / "one.mp4"), "--out", str(rows), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(videos / "one.mp4"), "--out", str(rows), "--resume", "--no-progress"]) == 0
    assert main(["analyze", str(videos / "two.avi"), "--out", str(rows), "--resume", "--no-progress"]) == 2
    assert "another input" in capsys.readouterr().err
    assert main(["analyze", str(videos / "one.mp4"), "--out", str(rows), "--resume", "--tta", "flip",
                 "--no-progress"]) == 2
    assert "tta" in capsys.readouterr().err


def test_videos_are_known_by_content_when_the_suffix_does_not_say(videos, tmp_path, capsys):
    import av

    plain = tmp_path / "clip"  # no suffix
    plain.write_bytes((videos / "one.mp4").read_bytes())
    audio = tmp_path / "voice.m4a"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        import numpy as np

        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    code = main(["analyze", str(plain), str(audio), "--out-dir", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "has no video stream" in err
    assert json.loads((tmp_path / "out" / "clip.summary.json").read_text())["frames_sampled"] == 15
