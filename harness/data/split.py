"""Seeded, content-addressed train/validation/test split that keeps linked rows together.

Rows linked by a near-duplicate cluster or a same-prompt group that were kept
(``flag`` / ``keep_all`` policies) form one unit, so no such cluster straddles
two splits. Each unit's split comes from a seeded hash of its normalised text
(prompt and response of its first row), not from a shuffle of the whole data:
adding data never moves an existing example to another split, so the test set
of one iteration stays the test set of the next and iterations can be compared
example by example. The ratios hold in expectation; the check gate reports a
split share outside its tolerance. With stratification, each label's units are
placed by their hash rank within the label, so every label gets its share.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from harness.config import SplitConfig
from harness.data.dedup.clusters import connected_components
from harness.data.dedup.exact import normalized

SPLITS = ("train", "validation", "test")


def split_groups(row_ids: pl.Series, links: pl.DataFrame) -> pl.Series:
    """Group id (smallest linked row_id) per row; ``links`` has row_id, cluster_id."""
    index = {int(r): i for i, r in enumerate(row_ids.to_list())}
    pairs = []
    for members in links.group_by("kind", "cluster_id").agg("row_id")["row_id"].to_list():
        present = [index[r] for r in members if r in index]
        pairs.extend((present[0], other) for other in present[1:])
    labels = connected_components(len(index), np.array(pairs, dtype=np.int64).reshape(-1, 2))
    ids = row_ids.to_numpy()
    return pl.Series("_group", ids[labels], dtype=pl.Int64)


def _position(keys: list[str], seed: int) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per key."""
    return np.array([int.from_bytes(hashlib.blake2b(f"{seed}\x1f{k}".encode(), digest_size=8).digest(), "big") / 2**64
                     for k in keys])


def _split_of(position: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    edges = np.cumsum([ratios[s] for s in SPLITS])
    return np.array(SPLITS)[np.minimum(np.searchsorted(edges, position, side="right"), len(SPLITS) - 1)]


def assign_splits(
    frame: pl.DataFrame, *, config: SplitConfig, seed: int, stratify_by: str | None, links: pl.DataFrame
) -> pl.DataFrame:
    """Add a ``split`` column."""
    frame = frame.with_columns(split_groups(frame["row_id"], links))
    key = normalized("prompt_text") + "\x1f" + normalized("response_text")
    strata = pl.col(stratify_by).first().cast(pl.String) if stratify_by else pl.lit("all")
    units = frame.sort("row_id").group_by("_group", maintain_order=True).agg(
        key.first().alias("_key"), strata.alias("_stratum"))
    ratios = {"train": config.train, "validation": config.validation, "test": config.test}
    position = _position(units["_key"].to_list(), seed)
    if stratify_by:
        # Within each label, the hash rank (not the raw hash) places a unit, so each label is split by the ratios.
        ranks = units.with_columns(pl.Series("_p", position)).with_columns(
            ((pl.col("_p").rank("ordinal").over("_stratum") - 0.5) / pl.len().over("_stratum")).alias("_r"))
        position = ranks["_r"].to_numpy()
    mapping = units.select("_group").with_columns(pl.Series("split", _split_of(position, ratios), dtype=pl.String))
    return frame.join(mapping, on="_group", how="left", maintain_order="left").drop("_group")
