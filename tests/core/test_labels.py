import numpy as np
import pytest

from ferkit.core.labels import (
    CKPLUS_CLASSES,
    EMOTIONS,
    canonical_name,
    label_mapping,
    remap_labels,
    sentiment_map,
    sentiment_of,
    sentiment_probabilities,
)


def test_canonical_order_and_aliases():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert canonical_name("Anger") == "angry"
    assert canonical_name("happiness") == "happy"
    with pytest.raises(KeyError, match="unknown emotion"):
        canonical_name("bored")


def test_mapping_by_name_drops_contempt():
    m = label_mapping(CKPLUS_CLASSES, EMOTIONS)
    assert m.tolist() == [0, 1, 2, 3, 4, 5, 6, -1]
    assert remap_labels(np.array([7, 3]), CKPLUS_CLASSES, EMOTIONS).tolist() == [-1, 3]
    # a folder dataset in another order maps back by name
    assert label_mapping(["sad", "happy"], EMOTIONS).tolist() == [4, 3]


def test_sentiment_maps():
    assert sentiment_of("fear") == "negative"
    assert sentiment_of("fear", "fear_sad_neutral") == "neutral"
    assert sentiment_of("sad", "fear_sad_neutral") == "neutral"
    assert sentiment_of("surprise") == "positive"
    with pytest.raises(KeyError):
        sentiment_map("nope")
    with pytest.raises(ValueError):
        sentiment_map({"happy": "great"})


def test_sentiment_probabilities_sum():
    p = np.array([[0.1, 0.1, 0.1, 0.3, 0.1, 0.2, 0.1]])
    s = sentiment_probabilities(p)  # negative, neutral, positive
    np.testing.assert_allclose(s, [[0.4, 0.1, 0.5]])
    s2 = sentiment_probabilities(p, mapping="fear_sad_neutral")
    np.testing.assert_allclose(s2, [[0.2, 0.3, 0.5]])
