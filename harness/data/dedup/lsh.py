"""LSH banding over MinHash signatures: parameters, candidate pairs, verification.

Bands and rows come from datasketch's own optimisation (the one ``MinHashLSH``
runs for a threshold). Candidates are verified by the exact Jaccard similarity
of the two texts' shingle sets, so false positives cost only verification time:
that is why false negatives are weighted more than datasketch's default 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHashLSH
from scipy.integrate import quad

from harness.data.dedup.minhash import Signatures

# Buckets larger than this are linked as a star around their first member
# instead of all pairs, so one boilerplate text cannot make the pair count explode.
MAX_BUCKET_PAIRS = 64


class LshParameterError(ValueError):
    """Parameters that cannot do what was asked; the message says why and what to change."""


@dataclass(frozen=True)
class LshParams:
    threshold: float
    num_perm: int
    bands: int
    rows: int
    effective_threshold: float
    false_positive_probability: float
    false_negative_probability: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _candidate_probability(s: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - s**rows) ** bands


@lru_cache(maxsize=32)
def _optimal(threshold: float, num_perm: int, fn_weight: float) -> tuple[int, int]:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(1.0 - fn_weight, fn_weight))
    return lsh.b, lsh.r


def lsh_parameters(
    threshold: float,
    num_perm: int,
    *,
    bands: int | None = None,
    rows: int | None = None,
    false_negative_weight: float = 0.95,
) -> LshParams:
    """Bands and rows for a Jaccard threshold, with the S-curve they give."""
    if not 0.0 < threshold < 1.0:
        raise LshParameterError(f"threshold must lie strictly between 0 and 1, got {threshold}")
    if num_perm < 2:
        raise LshParameterError(f"num_perm must be at least 2, got {num_perm}")
    if bands is None or rows is None:
        bands, rows = _optimal(round(threshold, 6), num_perm, false_negative_weight)
    if bands < 2:
        raise LshParameterError(
            f"threshold {threshold} with num_perm {num_perm} gives fewer than 2 bands; raise num_perm"
        )
    if bands * rows > num_perm:
        raise LshParameterError(f"bands * rows = {bands * rows} exceeds num_perm = {num_perm}")
    effective = (1.0 / bands) ** (1.0 / rows)
    if abs(effective - threshold) > 0.2:
        raise LshParameterError(
            f"{bands} bands of {rows} rows make texts candidates around Jaccard {effective:.2f}, far from the "
            f"threshold {threshold}: most true duplicates would be missed or every pair compared. "
            "Let bands/rows be derived from the threshold, or raise num_perm"
        )
    fp, _ = quad(lambda s: _candidate_probability(s, bands, rows), 0.0, threshold)
    fn, _ = quad(lambda s: 1.0 - _candidate_probability(s, bands, rows), threshold, 1.0)
    return LshParams(threshold, num_perm, bands, rows, effective, fp, fn)


def _band_keys(columns: np.ndarray, start: int, stop: int) -> np.ndarray:
    """One uint64 key per text for signature rows start..stop (columns is num_perm x n)."""
    key = np.zeros(columns.shape[1], dtype=np.uint64)
    for row in columns[start:stop]:
        key ^= row
        key *= np.uint64(0x100000001B3)
        key ^= key >> np.uint64(29)
    return key


def _bucket_pairs(members: np.ndarray, sizes: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    """All pairs inside each bucket (a star around the first member above MAX_BUCKET_PAIRS),
    vectorised over all buckets of the same size."""
    found = []
    for size in np.unique(sizes[sizes > 1]):
        bucket_starts = starts[sizes == size]
        if size <= MAX_BUCKET_PAIRS:
            i, j = np.triu_indices(size, k=1)
            block = members[bucket_starts[:, None] + np.arange(size)[None, :]]
            found.append(np.stack((block[:, i].ravel(), block[:, j].ravel()), axis=1))
        else:
            for start in bucket_starts:
                group = members[start : start + size]
                found.append(np.stack((np.full(size - 1, group[0]), group[1:]), axis=1))
    return found


def candidate_pairs(signatures: Signatures, params: LshParams) -> np.ndarray:
    """Distinct (i, j) index pairs, i < j, that share at least one band. Shape (n, 2)."""
    usable = np.nonzero(signatures.has_words())[0]
    columns = np.ascontiguousarray(signatures.values[usable].T, dtype=np.uint64)
    found: list[np.ndarray] = []
    for band in range(params.bands):
        keys = _band_keys(columns, band * params.rows, (band + 1) * params.rows)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_keys)) + 1))
        sizes = np.diff(np.concatenate((starts, [sorted_keys.size])))
        found.extend(_bucket_pairs(usable[order], sizes, starts))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1).astype(np.int64)
    n = np.int64(signatures.values.shape[0])
    codes = np.sort(pairs[:, 0] * n + pairs[:, 1])
    codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))]
    return np.stack((codes // n, codes % n), axis=1)


def jaccard(signatures: Signatures, i: int, j: int) -> float:
    a, b = signatures.shingle_set(i), signatures.shingle_set(j)
    if a.size == 0 or b.size == 0:
        return 0.0
    if a.size > b.size:
        a, b = b, a
    # Both sets are sorted and distinct: look the smaller up in the larger
    # (3x faster than np.intersect1d, which concatenates and sorts both).
    positions = np.minimum(np.searchsorted(b, a), b.size - 1)
    inter = int(np.count_nonzero(b[positions] == a))
    return inter / (a.size + b.size - inter)


def estimated_jaccard(signatures: Signatures, pairs: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Share of equal signature values per pair: MinHash's unbiased estimate of Jaccard."""
    values = signatures.values
    estimates = np.empty(pairs.shape[0], dtype=np.float64)
    for start in range(0, pairs.shape[0], chunk):
        block = pairs[start : start + chunk]
        estimates[start : start + chunk] = (values[block[:, 0]] == values[block[:, 1]]).mean(axis=1)
    return estimates


# A pair whose signature estimate lies more than this many standard errors from the
# threshold is decided by the estimate alone: a wrong call has probability < 1e-6.
SURE_SIGMAS = 5.0


def duplicate_edges(signatures: Signatures, pairs: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Edges (exact Jaccard >= threshold) that connect every near-duplicate cluster, and how many
    pairs were verified exactly.

    Candidates go most-similar first through a union-find; a pair whose two rows
    are already in one cluster is skipped, since another edge cannot change the
    clusters. A clique of k templated rows costs about k checks instead of k^2/2.
    """
    n = signatures.values.shape[0]
    estimates = estimated_jaccard(signatures, pairs)
    sigma = (threshold * (1.0 - threshold) / signatures.values.shape[1]) ** 0.5
    plausible = estimates >= threshold - SURE_SIGMAS * sigma
    order = np.argsort(-estimates[plausible], kind="stable")
    ordered = pairs[plausible][order]
    sure = estimates[plausible][order] >= threshold + SURE_SIGMAS * sigma
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges, checked = [], 0
    for (i, j), certain in zip(ordered.tolist(), sure.tolist(), strict=True):
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        if not certain:
            checked += 1
            if jaccard(signatures, i, j) < threshold:
                continue
        parent[max(ri, rj)] = min(ri, rj)
        edges.append((i, j))
    return np.array(edges, dtype=np.int64).reshape(-1, 2), checked
