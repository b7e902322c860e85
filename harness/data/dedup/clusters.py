"""Union-find over duplicate pairs, and the choice of the row each cluster keeps."""

from __future__ import annotations

import numpy as np
import polars as pl

from harness.config import KeepPolicy


def connected_components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Component label (the smallest member index) of each of n items linked by pairs."""
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for i, j in pairs:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])


def keeper_order(policy: KeepPolicy) -> tuple[list[pl.Expr], list[bool]]:
    """Sort keys that put the row to keep first within a cluster (ties: lowest row_id)."""
    if policy == "longest":
        return [pl.col("_response_chars"), pl.col("row_id")], [True, False]
    if policy == "quality":
        return [pl.col("_quality"), pl.col("row_id")], [True, False]
    return [pl.col("row_id")], [False]


def with_keepers(members: pl.DataFrame, policy: KeepPolicy) -> pl.DataFrame:
    """Add kept_row_id per cluster_id to a frame of cluster members."""
    keys, descending = keeper_order(policy)
    keepers = (
        members.sort(keys, descending=descending)
        .group_by("cluster_id", maintain_order=True)
        .agg(pl.col("row_id").first().alias("kept_row_id"))
    )
    return members.join(keepers, on="cluster_id", how="left", maintain_order="left")
