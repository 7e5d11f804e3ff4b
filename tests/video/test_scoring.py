import json
from pathlib import Path

import pytest

from ferkit.core.errors import InputError, MissingInputError, OptionError
from ferkit.core.labels import EMOTIONS, SENTIMENTS
from ferkit.video.scoring import format_report, label_space, read_labels, rule_distribution, score_videos


def summary(video, tracks):
    """tracks: {id: (frames, emotion of every frame)}."""
    per_track, all_votes = {}, {e: 0.0 for e in EMOTIONS}
    for tid, (frames, emotion) in tracks.items():
        one_hot = {e: float(e == emotion) for e in EMOTIONS}
        sent = {s: float(s == {"happy": "positive", "neutral": "neutral"}.get(emotion, "negative")) for s in SENTIMENTS}
        per_track[str(tid)] = {
            "frames": frames, "dominant_by_mean": emotion, "dominant_by_vote": emotion,
            "mean_emotions": one_hot, "vote_emotions": one_hot, "mean_sentiment": sent, "vote_sentiment": sent,
            "sentiment_by_mean": max(sent, key=sent.get),
        }
        for e in EMOTIONS:
            all_votes[e] += one_hot[e] * frames
    total = sum(all_votes.values())
    overall = None
    if total:
        dist = {e: v / total for e, v in all_votes.items()}
        sent = {"negative": 0.0, "neutral": dist["neutral"], "positive": dist["happy"]}
        sent["negative"] = 1 - sent["neutral"] - sent["positive"]
        overall = {"mean_emotions": dist, "vote_emotions": dist, "mean_sentiment": sent, "vote_sentiment": sent}
    main = max(tracks, key=lambda t: tracks[t][0]) if tracks else None
    return {"video": f"/data/{video}", "overall": overall, "per_track": per_track, "main_track": main}


@pytest.fixture
def results(tmp_path):
    videos = {
        "a.mp4": {0: (100, "happy"), 1: (10, "sad")},
        "b.mp4": {0: (5, "angry"), 1: (50, "sad"), 2: (6, "angry")},  # main face sad, two minor angry tracks
        "c.mp4": {0: (40, "neutral")},
        "d.mp4": {},  # no face
    }
    for name, tracks in videos.items():
        (tmp_path / f"{name[0]}.summary.json").write_text(json.dumps(summary(name, tracks)))
    return tmp_path


def test_rules_and_metrics(results, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,Happiness\nb,angry\nc.mp4,neutral\nd.mp4,sad\ne.mp4,happy\n")
    report = score_videos(results, labels)
    assert report["space"] == "emotion" and report["scored"] == 4 and report["missing"] == ["e.mp4"]
    assert report["unlabelled"] == [] and report["matches"]["b"] == "/data/b.mp4"
    rules = report["rules"]
    assert rules["vote"]["accuracy"] == pytest.approx(2 / 3)  # b's frames vote sad
    assert rules["main_vote"]["accuracy"] == pytest.approx(2 / 3)
    assert rules["track_vote"]["accuracy"] == pytest.approx(1.0)  # two of b's three tracks are angry
    assert rules["vote"]["no_prediction"] == 1 and rules["vote"]["accuracy_all"] == pytest.approx(2 / 4)
    assert len(rules["mean"]["confusion_matrix"]) == 7
    assert "| track_vote | 3 | 1.000" in format_report(report)


def test_sentiment_labels(results, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,positive\nb.mp4,negative\nc.mp4,neutral\n")
    report = score_videos(results, labels)
    assert report["space"] == "sentiment" and report["classes"] == list(SENTIMENTS)
    assert report["rules"]["mean"]["accuracy"] == pytest.approx(1.0)


def test_bad_labels(tmp_path):
    bad = tmp_path / "l.csv"
    bad.write_text("name,emotion\nx,happy\n")
    with pytest.raises(InputError, match="video,label; got name,emotion"):
        read_labels(bad)
    with pytest.raises(InputError, match="label 'contempt' of x is not one of angry"):
        label_space({"x": "contempt"})
    with pytest.raises(InputError, match="label 'bored' of x is not one of"):
        label_space({"x": "bored"})
    with pytest.raises(InputError, match="mix emotions and sentiments"):
        label_space({"x": "happy", "y": "positive"})
    with pytest.raises(OptionError, match="rule must be one of vote, mean"):
        rule_distribution(summary("a", {0: (1, "happy")}), "median", "emotion")
    bad.write_text("video,label\nx.mp4,happy\ny.mp4,\n")
    with pytest.raises(InputError, match=r"l.csv:3: empty video or label"):
        read_labels(bad)
    bad.write_text("video,label\nx.mp4,happy\ny.mp4,sad\nx.mp4,Happy\nx.mp4,sad\n")
    with pytest.raises(InputError, match=r"l.csv:5: x.mp4 is labelled 'sad' here and 'happy' on line 2"):
        read_labels(bad)
    with pytest.raises(MissingInputError):
        read_labels(tmp_path / "nope.csv")


def test_labels_csv_with_byte_order_mark_and_header_case(results, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"\xef\xbb\xbfVideo, Label\r\na.mp4,happy\r\na.mp4,happy\r\n\r\nc.mp4,neutral\r\n")
    assert read_labels(labels) == {"a.mp4": "happy", "c.mp4": "neutral"}  # a repeated row counts once
    report = score_videos(results, labels)
    assert report["scored"] == 2 and report["rules"]["vote"]["accuracy"] == pytest.approx(1.0)


def write_summaries(folder, videos):
    """videos: {recorded video path: tracks}; one NAME.summary.json each, in its own sub-folder."""
    for k, (video, tracks) in enumerate(videos.items()):
        path = folder / f"run{k}" / f"{Path(video).stem}.summary.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = summary(Path(video).name, tracks)
        data["video"] = video
        path.write_text(json.dumps(data))
    return folder


@pytest.fixture
def same_names(tmp_path):
    """Two videos with one file name, in folders a/ and b/, with opposite emotions."""
    return write_summaries(tmp_path / "res", {
        "/data/a/clip.mp4": {0: (20, "happy")},
        "/data/b/clip.mp4": {0: (20, "sad")},
        "/data/b/other.mp4": {0: (20, "angry")},
    })


def test_a_base_name_shared_by_two_videos_is_refused(same_names, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\nclip.mp4,happy\nother.mp4,angry\n")
    with pytest.raises(InputError) as exc:
        score_videos(same_names, labels)
    msg = str(exc.value)
    assert "1 label(s) match more than one analysed video" in msg
    assert "'clip.mp4' (line 2) matches /data/a/clip.mp4, /data/b/clip.mp4" in msg
    assert "Give each video's path in the labels CSV" in msg and '"video" field' in msg
    labels.write_text("video,label\nclip,happy\n")  # the stem is just as ambiguous
    with pytest.raises(InputError, match="'clip' \\(line 2\\) matches /data/a/clip.mp4, /data/b/clip.mp4"):
        score_videos(same_names, labels)


def test_labels_with_paths_match_the_recorded_video(same_names, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\nb/clip.mp4,sad\n/data/a/clip.mp4,happy\nother,angry\n")
    report = score_videos(same_names, labels)
    assert report["scored"] == 3 and report["missing"] == [] and report["unlabelled"] == []
    assert report["matches"] == {"b/clip.mp4": "/data/b/clip.mp4", "/data/a/clip.mp4": "/data/a/clip.mp4",
                                 "other": "/data/b/other.mp4"}
    assert report["rules"]["vote"]["accuracy"] == pytest.approx(1.0)  # by base name, one would be swapped
    # relative paths on either side match by their common tail
    rel = write_summaries(tmp_path / "rel", {"a/clip.mp4": {0: (5, "happy")}, "./b/clip.mp4": {0: (5, "sad")}})
    labels.write_text("video,label\n/home/me/data/a/clip.mp4,happy\n../data/b/clip.mp4,sad\n")
    assert score_videos(rel, labels)["rules"]["mean"]["accuracy"] == pytest.approx(1.0)


def test_one_result_matched_by_two_labels_is_refused(same_names, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na/clip.mp4,happy\n/data/a/clip.mp4,sad\n")
    with pytest.raises(InputError, match=r"'a/clip.mp4' \(line 2\) and '/data/a/clip.mp4' \(line 3\) match the "
                       r"same result .*run0/clip.summary.json"):
        score_videos(same_names, labels)


def test_missing_and_unlabelled_videos_are_reported(same_names, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na/clip.mp4,happy\nc/clip.mp4,sad\nnew.mp4,fear\n")
    report = score_videos(same_names, labels)
    assert report["scored"] == 1 and report["videos"] == 3
    assert report["missing"] == ["c/clip.mp4", "new.mp4"]
    assert report["unlabelled"] == ["/data/b/clip.mp4", "/data/b/other.mp4"]
    text = format_report(report)
    assert "labelled but no results for 2: c/clip.mp4, new.mp4" in text
    assert "results but no label for 2: /data/b/clip.mp4, /data/b/other.mp4" in text
    labels.write_text("video,label\nx.mp4,happy\n")
    with pytest.raises(InputError, match="the labels name x.mp4; the summaries are for /data/a/clip.mp4"):
        score_videos(same_names, labels)


def test_unusable_results(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,happy\n")
    with pytest.raises(MissingInputError):
        score_videos(tmp_path / "nope", labels)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no \\*.summary.json files"):
        score_videos(tmp_path / "empty", labels)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.summary.json").write_text("{not json")
    with pytest.raises(InputError, match="a.summary.json: not a readable JSON file"):
        score_videos(tmp_path / "bad", labels)
    (tmp_path / "bad" / "a.summary.json").write_text('{"frames": 3}')
    with pytest.raises(InputError, match='a.summary.json: not a ferkit video summary \\(no "video" field\\)'):
        score_videos(tmp_path / "bad", labels)
    (tmp_path / "bad" / "a.summary.json").write_text('{"video": "a.mp4", "overall": {"frames": 3}}')
    with pytest.raises(InputError, match="a.summary.json: not a complete ferkit video summary"):
        score_videos(tmp_path / "bad", labels)


def test_score_videos_cli_out_overwrite_and_json(same_names, tmp_path, capsys):
    from ferkit.cli import main

    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na/clip.mp4,happy\nb/clip.mp4,happy\n")
    out = tmp_path / "reports" / "score.json"
    assert main(["score-videos", str(same_names), "--labels", str(labels), "--out", str(out), "--rules", "vote"]) == 0
    captured = capsys.readouterr()
    assert "2 of 2 labelled videos scored" in captured.out and "| vote | 2 | 0.500" in captured.out
    assert "results but no label for 1: /data/b/other.mp4" in captured.out
    assert f"wrote {out}" in captured.err
    written = json.loads(out.read_text())
    assert written["rules"]["vote"]["n"] == 2 and list(written["rules"]) == ["vote"]
    out.write_text("keep me")
    assert main(["score-videos", str(same_names), "--labels", str(labels), "--out", str(out)]) == 2
    assert f"{out}: exists; use --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["score-videos", str(same_names), "--labels", str(labels), "--out", str(out), "--overwrite",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) and printed["matches"]["b/clip.mp4"] == "/data/b/clip.mp4"
    assert main(["score-videos", str(same_names), "--labels", str(labels), "--out", str(labels), "--overwrite"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    labels.write_text("video,label\nclip.mp4,happy\n")
    assert main(["score-videos", str(same_names), "--labels", str(labels)]) == 2
    assert "'clip.mp4' (line 2) matches /data/a/clip.mp4, /data/b/clip.mp4" in capsys.readouterr().err


def test_score_videos_refuses_an_out_that_is_a_summary_and_checks_out_first(results, tmp_path, capsys):
    from ferkit.cli import main

    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,happy\nc.mp4,neutral\n")
    target = results / "a.summary.json"
    before = target.read_text()
    assert main(["score-videos", str(results), "--labels", str(labels), "--out", str(target), "--overwrite"]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert target.read_text() == before
    # a parent that is a file: one line, before any work
    out = tmp_path / "labels.csv" / "score.json"
    assert main(["score-videos", str(results), "--labels", str(labels), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot create its folder" in err and "Traceback" not in err


def test_incomplete_summaries_are_scored_with_a_note(results, tmp_path, caplog):
    path = results / "a.summary.json"
    s = json.loads(path.read_text())
    s.update(complete=False, stopped_early=True)
    path.write_text(json.dumps(s))
    c = json.loads((results / "c.summary.json").read_text())
    c.update(complete=True, stopped_early=False)
    (results / "c.summary.json").write_text(json.dumps(c))
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,happy\nc.mp4,neutral\n")
    with caplog.at_level("WARNING", logger="ferkit.video"):
        report = score_videos(results, labels, ("vote",))
    assert report["incomplete"] == ["a.mp4"] and report["rules"]["vote"]["n"] == 2
    assert "1 scored video(s) were analysed only in part" in format_report(report)
    assert any("a.mp4" in r.getMessage() for r in caplog.records)
