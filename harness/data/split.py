"""Seeded train/validation/test split that keeps linked rows together.

Rows linked by a near-duplicate cluster or a same-prompt group that were kept
(``flag`` / ``keep_all`` policies) form one unit, so no such cluster straddles
two splits. Units are shuffled with the seed and each goes to the split
furthest below its target; with stratification this runs per label.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from harness.config import SplitConfig
from harness.data.dedup.clusters import connected_components

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


def _assign(units: pl.DataFrame, ratios: dict[str, float], rng: np.random.Generator) -> dict[int, str]:
    order = rng.permutation(units.height)
    sizes = units["size"].to_numpy()
    total = float(sizes.sum())
    filled = dict.fromkeys(SPLITS, 0.0)
    result: dict[int, str] = {}
    groups = units["_group"].to_numpy()
    for i in order:
        target = max(SPLITS, key=lambda s: (ratios[s] * total - filled[s], -SPLITS.index(s)))
        filled[target] += sizes[i]
        result[int(groups[i])] = target
    return result


def assign_splits(
    frame: pl.DataFrame, *, config: SplitConfig, seed: int, stratify_by: str | None, links: pl.DataFrame
) -> pl.DataFrame:
    """Add a ``split`` column."""
    frame = frame.with_columns(split_groups(frame["row_id"], links))
    strata = pl.col(stratify_by).first() if stratify_by else pl.lit("all")
    units = frame.group_by("_group").agg(pl.len().alias("size"), strata.alias("_stratum")).sort("_group")
    ratios = {"train": config.train, "validation": config.validation, "test": config.test}
    rng = np.random.default_rng(seed)
    assignment: dict[int, str] = {}
    for stratum in sorted(units["_stratum"].unique().to_list(), key=str):
        assignment |= _assign(units.filter(pl.col("_stratum") == stratum), ratios, rng)
    mapping = pl.DataFrame({"_group": list(assignment), "split": list(assignment.values())},
                           schema={"_group": pl.Int64, "split": pl.String})
    return frame.join(mapping, on="_group", how="left", maintain_order="left").drop("_group")
