import numpy as np
import pytest

from ferkit.infer.tracking import FaceTracker, Track, smooth


def test_ids_stay_with_their_faces():
    tr = FaceTracker()
    assert tr.update([(0, 0, 50, 50), (200, 0, 50, 50)], 0.0) == [0, 1]
    assert tr.update([(205, 2, 50, 50), (4, 1, 50, 50)], 0.1) == [1, 0]
    assert tr.update([(400, 300, 50, 50)], 0.2) == [2]  # a new face elsewhere


def test_fast_faces_are_followed_by_their_velocity():
    tr = FaceTracker()
    tr.update([(0, 0, 50, 50)], 0.0)
    assert tr.update([(20, 0, 50, 50)], 0.05) == [0]
    # unseen for 0.3 s while moving 400 px/s: found 120 px further (2.4 box sides away)
    assert tr.update([(145, 0, 50, 50)], 0.35) == [0]
    still = FaceTracker()
    still.update([(20, 0, 50, 50)], 0.05)
    assert still.update([(145, 0, 50, 50)], 0.35) == [1]  # without motion that is another face


def test_crossing_faces_keep_their_ids():
    tr = FaceTracker()
    ids = None
    for i in range(20):
        t = i / 10
        a, b = (10 + 30 * i, 0, 60, 60), (580 - 30 * i, 10, 60, 60)
        boxes = [a, b] if not 9 <= i <= 10 else [a]  # b hidden behind a while they overlap
        ids = tr.update(boxes, t)
        assert ids[0] == 0
    assert ids == [0, 1]


def test_old_tracks_end():
    tr = FaceTracker(max_age_s=0.5)
    tr.update([(0, 0, 50, 50)], 0.0)
    assert tr.update([(0, 0, 50, 50)], 0.4) == [0]
    assert tr.update([(0, 0, 50, 50)], 1.0) == [1]


def test_smoothing_half_life():
    track = Track(0, (0, 0, 1, 1), 0.0)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert np.allclose(smooth(track, a, 0.0, 0.5), a)
    out = smooth(track, b, 0.5, 0.5)  # one half-life later: equal weights
    assert out == pytest.approx([0.5, 0.5])
    off = Track(1, (0, 0, 1, 1), 0.0)
    smooth(off, a, 0.0, 0.0)
    assert np.allclose(smooth(off, b, 0.1, 0.0), b)


def test_assignment_is_optimal_like_scipys():
    from scipy.optimize import linear_sum_assignment

    from ferkit.infer.tracking import assign

    rng = np.random.default_rng(0)
    for shape in [(1, 1), (1, 4), (3, 2), (4, 4), (5, 3), (2, 5), (7, 6)]:
        for _ in range(20):
            cost = rng.uniform(0, 2, shape)
            cost[rng.random(shape) < 0.3] = 1e6  # pairs that may not match
            rows, cols = linear_sum_assignment(cost)
            pairs = assign(cost)
            assert len(pairs) == min(shape) and len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
            assert sum(cost[r, c] for r, c in pairs) == pytest.approx(cost[rows, cols].sum())
    assert assign(np.zeros((0, 3))) == []
