import json

import numpy as np
import pytest

from ferkit.core.labels import EMOTIONS
from ferkit.data import FaceDataset
from ferkit.data.duplicates import near_duplicate_pairs, phash
from ferkit.data.info import dataset_info, format_info


def test_phash_and_duplicates():
    rng = np.random.default_rng(0)
    base = (rng.random((6, 48, 48)) * 255).astype(np.uint8)
    base = np.stack([np.kron(b[:12, :12], np.ones((4, 4), np.uint8)) for b in base])  # blocky, distinct
    noisy = np.clip(base[0].astype(int) + rng.integers(-3, 4, (48, 48)), 0, 255).astype(np.uint8)
    images = np.concatenate([base, base[1:2], noisy[None], base[2:3, :, ::-1]])  # 6 exact of 1, 7 near 0, 8 mirror 2
    h = phash(images)
    assert h.dtype == np.uint64 and len(set(h[:6].tolist())) == 6
    pairs = {tuple(p) for p in near_duplicate_pairs(images).tolist()}
    assert {(1, 6), (0, 7), (2, 8)} <= pairs
    assert not any(set(p) <= {0, 1, 2, 3, 4, 5} for p in pairs)
    split = np.array(["train"] * 6 + ["test"] * 3)
    ds = FaceDataset(images, [0, 1, 2, 3, 4, 5, 1, 6, 2], EMOTIONS, split=split)
    info = dataset_info(ds)
    d = info["duplicates"]
    assert d["exact_groups"] == 1 and d["exact_groups_across_splits"] == 1
    assert d["near_groups"] == 3 and d["near_groups_across_splits"] == 3
    assert d["near_groups_with_conflicting_labels"] == 1  # 0 (angry) vs its noisy copy (neutral)
    assert info["counts"]["train"]["angry"] == 1
    text = format_info(info)
    assert "near duplicates" in text and "imbalance" in text


def test_near_duplicate_search_matches_brute_force_in_any_chunking(capsys):
    rng = np.random.default_rng(1)
    base = np.stack([np.kron(b, np.ones((4, 4), np.uint8)) for b in (rng.random((40, 12, 12)) * 255).astype(np.uint8)])
    images = np.concatenate([base, base[::3], base[::5, :, ::-1]])
    h, m = phash(images), phash(images[:, :, ::-1])
    expected = {
        (i, j)
        for i in range(len(images))
        for j in range(i + 1, len(images))
        if min(bin(int(h[i] ^ h[j])).count("1"), bin(int(h[i] ^ m[j])).count("1")) <= 5
    }
    assert len(expected) >= 13 + 8  # the copies and the mirrored copies at least
    for chunk in (1, 7, 64, 4096):
        assert {tuple(p) for p in near_duplicate_pairs(images, chunk=chunk).tolist()} == expected
    near_duplicate_pairs(images, chunk=7, progress=True)
    assert "near duplicates" in capsys.readouterr().err


def test_info_json_and_option_check():
    from ferkit.core.errors import OptionError

    ds = FaceDataset(np.arange(3 * 16, dtype=np.uint8).reshape(3, 4, 4), [0, 3, 3], EMOTIONS)
    info = dataset_info(ds, progress=True)
    json.dumps(info)  # every value is plain JSON
    assert info["counts"] == {"all": {c: {"angry": 1, "happy": 2}.get(c, 0) for c in EMOTIONS}}
    assert info["imbalance_ratio"] == 2.0
    with pytest.raises(OptionError, match="max_distance must be in \\[0, 64\\]"):
        dataset_info(ds, max_distance=65)
