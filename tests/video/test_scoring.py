import json

import pytest

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
    with pytest.raises(ValueError, match="video,label"):
        read_labels(bad)
    with pytest.raises(ValueError, match="not one of"):
        label_space({"x": "contempt"})
    with pytest.raises(KeyError):
        label_space({"x": "bored"})
    with pytest.raises(ValueError, match="unknown rule"):
        rule_distribution(summary("a", {0: (1, "happy")}), "median", "emotion")
