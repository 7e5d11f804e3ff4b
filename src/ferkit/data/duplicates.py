"""Exact and near-duplicate images by 64-bit perceptual hash (DCT of a 32x32 downscale), mirrored
copies included, found by Hamming distance in vectorised chunks."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.fft import dctn
from tqdm import tqdm

_BITS = 1 << np.arange(64, dtype=np.uint64)


def phash(images: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N,) uint64 perceptual hashes (pHash: sign of the 8x8 low-frequency DCT
    against its median)."""
    small = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in images]).astype(np.float32)
    low = dctn(small, axes=(1, 2), norm="ortho")[:, :8, :8].reshape(len(images), 64)
    bits = low > np.median(low[:, 1:], axis=1, keepdims=True)
    return (bits.astype(np.uint64) * _BITS).sum(axis=1, dtype=np.uint64)


def exact_duplicates(images: np.ndarray) -> list[list[int]]:
    """Groups (size >= 2) of byte-identical images."""
    flat = images.reshape(len(images), -1)
    _, inverse, counts = np.unique(flat, axis=0, return_inverse=True, return_counts=True)
    return [np.flatnonzero(inverse == g).tolist() for g in np.flatnonzero(counts > 1)]


def near_duplicate_pairs(images: np.ndarray, max_distance: int = 5, mirrored: bool = True,
                         chunk: int = 2048, progress: bool = False) -> np.ndarray:
    """(P, 2) index pairs i < j whose hashes (or one's mirror's) differ in at most ``max_distance`` bits.
    ``progress`` shows a progress bar (on stderr) over the chunks compared."""
    h = phash(images)
    targets = [h, phash(images[:, :, ::-1])] if mirrored else [h]
    pairs = []
    starts = range(0, len(h), chunk)
    for start in tqdm(starts, desc="near duplicates", unit="chunk", disable=not progress or len(starts) < 2):
        block = h[start : start + chunk, None]
        for t in targets:
            # only j >= start can pair with an i of this block (i < j)
            dist = np.bitwise_count(block ^ t[None, start:])
            i, j = np.nonzero(dist <= max_distance)
            i, j = i + start, j + start
            keep = i < j
            pairs.append(np.stack([i[keep], j[keep]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def pair_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected components (size >= 2) of the duplicate graph."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(pairs) == 0:
        return []
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    return [np.flatnonzero(comp == c).tolist() for c in np.flatnonzero(sizes > 1)]


def near_duplicates_of(images: np.ndarray, references: np.ndarray, max_distance: int = 5, mirrored: bool = True,
                       chunk: int = 2048, progress: bool = False) -> np.ndarray:
    """(N,) bool: which of ``images`` is a near-duplicate (pHash within ``max_distance`` bits; with
    ``mirrored``, of a reference's mirror too) of any of ``references``."""
    hit = np.zeros(len(images), dtype=bool)
    if len(images) == 0 or len(references) == 0:
        return hit
    h = phash(images)
    targets = [phash(references)] + ([phash(references[:, :, ::-1])] if mirrored else [])
    starts = range(0, len(h), chunk)
    for start in tqdm(starts, desc="near duplicates of held-out", unit="chunk", disable=not progress or len(starts) < 2):
        block = h[start : start + chunk, None]
        for t in targets:
            hit[start : start + chunk] |= (np.bitwise_count(block ^ t[None, :]) <= max_distance).any(axis=1)
    return hit
