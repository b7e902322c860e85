"""MinHash signatures for many texts at once, bit-identical to datasketch.

datasketch's ``MinHash(num_perm, seed, hashfunc=shingle_hash32, scheme="affine32")``
fed ``shingles(text, k)`` gives exactly the signature row that
``minhash_signatures`` computes for that text (a test pins this). The speed
comes from three changes, not from a different estimator:

* words are hashed by polars (seeded, in Rust) for all words at once, instead of
  a SHA-1 call in Python per shingle;
* a shingle's hash is a mix of its word hashes (``shingle_hash32``), computed for
  all shingles of a batch with numpy;
* the affine permutations and the per-text minimum run over all shingles of a
  chunk of texts, one permutation at a time on a cache-sized 1-D buffer, instead
  of a Python call per text (a shingles x num_perm matrix was 6x slower: it is
  bound by memory traffic).

``benchmarks/dedup_bench.py`` measures the gain against plain datasketch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from datasketch import MinHash

SCHEME = "affine32"
_WORD = r"\w+"
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1
_WORD_SEED = 0x5EED


def words(text: str) -> list[str]:
    """The tokens shingles are made of: lower-cased runs of word characters."""
    return re.findall(_WORD, text.lower())


def shingles(text: str, k: int) -> list[bytes]:
    """Word k-grams joined by a space; a text shorter than k words is one shingle."""
    tokens = words(text)
    if not tokens:
        return []
    if len(tokens) < k:
        return [" ".join(tokens).encode()]
    return [" ".join(tokens[i : i + k]).encode() for i in range(len(tokens) - k + 1)]


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def word_hash64(word: bytes) -> int:
    """Polars' seeded string hash of one word (stable within a polars version, which run.json records)."""
    return int(pl.Series([word.decode()], dtype=pl.String).hash(seed=_WORD_SEED).item())


def shingle_hash32(shingle: bytes) -> int:
    """32-bit hash of a shingle, from the hashes of its words.

    Usable as datasketch's ``hashfunc``; ``minhash_signatures`` computes the same
    function vectorised.
    """
    parts = shingle.split(b" ")
    acc = word_hash64(parts[0])
    for part in parts[1:]:
        acc = _fmix64_int((acc * int(_MIX) + word_hash64(part)) & _MASK64)
    return _fmix64_int(acc) & 0xFFFFFFFF


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@dataclass(frozen=True)
class Signatures:
    """Signature matrix plus each text's distinct shingle hashes (for exact Jaccard)."""

    values: np.ndarray  # (n_texts, num_perm) uint32; all 0xFFFFFFFF for a text without words
    shingle_hashes: np.ndarray  # flat uint32, sorted and distinct within each text
    offsets: np.ndarray  # (n_texts + 1,) int64 into shingle_hashes

    def shingle_set(self, i: int) -> np.ndarray:
        return self.shingle_hashes[self.offsets[i] : self.offsets[i + 1]]

    def has_words(self) -> np.ndarray:
        return np.diff(self.offsets) > 0


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own affine permutation parameters for (num_perm, seed)."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def word_hashes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Flat word hashes (uint64, as word_hash64) of all texts, and the number of words of each.

    Hashing in polars (Rust, all cores) costs 0.02 s per 2M words; SHA-1 per
    distinct word in Python cost 0.4 s, a numpy FNV-1a 0.6 s.
    """
    tokens = texts.fill_null("").str.to_lowercase().str.extract_all(_WORD)
    lengths = tokens.list.len().to_numpy().astype(np.int64)
    flat = tokens.explode(empty_as_null=False).drop_nulls()
    return flat.hash(seed=_WORD_SEED).to_numpy().astype(np.uint64), lengths


def shingle_hashes(word_hashes: np.ndarray, lengths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hash of every shingle (as shingle_hash32 does) and the count per text."""
    total = word_hashes.size
    counts = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    padded = np.concatenate((word_hashes, np.zeros(k, dtype=np.uint64)))
    accs = [padded[:total]]
    for j in range(1, k):
        accs.append(_fmix64(accs[-1] * _MIX + padded[j : j + total]))
    text_of_word = np.repeat(np.arange(lengths.size), lengths)
    position = np.arange(total) - starts[text_of_word]
    full = position + k <= lengths[text_of_word]
    short = (lengths[text_of_word] < k) & (position == 0)
    pieces = np.empty(total, dtype=np.uint64)
    pieces[full] = accs[k - 1][full]
    if short.any():
        short_len = lengths[text_of_word][short]
        stacked = np.stack(accs)  # (k, total)
        pieces[short] = stacked[short_len - 1, np.nonzero(short)[0]]
    keep = full | short
    return (_fmix64(pieces[keep]) & np.uint64(0xFFFFFFFF)).astype(np.uint32), counts


def distinct_per_text(hashes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shingle hashes of each text, flat, and how many each text has."""
    text_ids = np.repeat(np.arange(counts.size, dtype=np.uint64), counts)
    keys = np.sort((text_ids << np.uint64(32)) | hashes.astype(np.uint64))
    first = np.ones(keys.size, dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys = keys[first]
    sizes = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=counts.size).astype(np.int64)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), sizes


def minhash_signatures(
    texts: Sequence[str] | pl.Series,
    *,
    num_perm: int = 128,
    seed: int = 1,
    shingle_size: int = 5,
    chunk_size: int = 20_000,
    progress=None,
) -> Signatures:
    """Signatures for all texts; ``progress(n)`` is called after each chunk of n texts."""
    series = texts if isinstance(texts, pl.Series) else pl.Series("t", list(texts), dtype=pl.String)
    a, b = permutations(num_perm, seed)
    empty = np.uint32(0xFFFFFFFF)
    values = np.full((len(series), num_perm), empty, dtype=np.uint32)
    sets: list[np.ndarray] = []
    set_sizes = np.zeros(len(series), dtype=np.int64)
    for chunk_start in range(0, len(series), chunk_size):
        chunk = series.slice(chunk_start, chunk_size)
        words_hashed, lengths = word_hashes(chunk)
        hashes, counts = shingle_hashes(words_hashed, lengths, shingle_size)
        distinct, sizes = distinct_per_text(hashes, counts)
        nonempty = np.nonzero(sizes)[0]
        if nonempty.size:
            starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[nonempty]
            mixed = _fmix32(distinct)
            buffer = np.empty_like(mixed)
            mins = np.empty((num_perm, nonempty.size), dtype=np.uint32)
            for k in range(num_perm):
                np.multiply(mixed, a[k], out=buffer)
                np.add(buffer, b[k], out=buffer)
                mins[k] = np.minimum.reduceat(buffer, starts)
            values[chunk_start + nonempty] = mins.T
        sets.append(distinct)
        set_sizes[chunk_start : chunk_start + len(chunk)] = sizes
        if progress is not None:
            progress(len(chunk))
    offsets = np.concatenate(([0], np.cumsum(set_sizes))).astype(np.int64)
    flat = np.concatenate(sets) if sets else np.zeros(0, dtype=np.uint32)
    return Signatures(values=values, shingle_hashes=flat, offsets=offsets)
