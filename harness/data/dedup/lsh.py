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


def candidate_pairs(signatures: Signatures, params: LshParams) -> np.ndarray:
    """Distinct (i, j) index pairs, i < j, that share at least one band. Shape (n, 2)."""
    usable = np.nonzero(signatures.has_words())[0]
    columns = np.ascontiguousarray(signatures.values[usable].T, dtype=np.uint64)
    found: list[np.ndarray] = []
    for band in range(params.bands):
        keys = _band_keys(columns, band * params.rows, (band + 1) * params.rows)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(np.diff(sorted_keys)) + 1
        starts = np.concatenate(([0], boundaries))
        sizes = np.diff(np.concatenate((starts, [sorted_keys.size])))
        pairs_of_two = starts[sizes == 2]
        found.append(np.stack((usable[order[pairs_of_two]], usable[order[pairs_of_two + 1]]), axis=1))
        for start, size in zip(starts[sizes > 2], sizes[sizes > 2], strict=True):
            members = usable[order[start : start + size]]
            if size <= MAX_BUCKET_PAIRS:
                i, j = np.triu_indices(size, k=1)
                found.append(np.stack((members[i], members[j]), axis=1))
            else:
                found.append(np.stack((np.full(size - 1, members[0]), members[1:]), axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0)


def jaccard(signatures: Signatures, i: int, j: int) -> float:
    a, b = signatures.shingle_set(i), signatures.shingle_set(j)
    if a.size == 0 or b.size == 0:
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def verified_pairs(signatures: Signatures, pairs: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs whose exact shingle Jaccard reaches the threshold, with that similarity."""
    similarity = np.array([jaccard(signatures, int(i), int(j)) for i, j in pairs], dtype=np.float64)
    keep = similarity >= threshold
    return pairs[keep], similarity[keep]
