"""Near-duplicate removal: MinHash signatures, LSH candidates, exact verification, clusters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from harness.config import KeepPolicy, NearDedupConfig
from harness.data.dedup.clusters import connected_components, with_keepers
from harness.data.dedup.exact import VIEW_COLUMNS, cluster_frame
from harness.data.dedup.lsh import candidate_pairs, duplicate_edges, jaccard, lsh_parameters
from harness.data.dedup.minhash import SCHEME, minhash_signatures
from harness.data.rejects import StepResult, as_rejects, flag_rows


def near_duplicates(
    frame: pl.DataFrame,
    *,
    config: NearDedupConfig,
    keep: KeepPolicy,
    progress: Callable[[int], None] | None = None,
) -> StepResult:
    """Cluster rows whose shingle Jaccard similarity reaches the threshold; drop or flag all but one."""
    params = lsh_parameters(config.threshold, config.num_perm, bands=config.bands, rows=config.rows,
                            false_negative_weight=config.false_negative_weight)
    texts = frame.select(pl.concat_str([pl.col(VIEW_COLUMNS[f]) for f in config.fields], separator="\n"))
    signatures = minhash_signatures(
        texts.to_series(), num_perm=config.num_perm, seed=config.seed, shingle_size=config.shingle_size,
        progress=progress,
    )
    candidates = candidate_pairs(signatures, params)
    edges, checked = duplicate_edges(signatures, candidates, config.threshold)
    labels = connected_components(frame.height, edges)
    sizes = np.bincount(labels, minlength=frame.height)
    in_cluster = np.nonzero(sizes[labels] > 1)[0]
    row_ids = frame["row_id"].to_numpy()
    members = frame[in_cluster].with_columns(
        pl.Series("cluster_id", row_ids[labels[in_cluster]], dtype=pl.Int64),
        pl.Series("_index", in_cluster, dtype=pl.Int64),
    )
    members = with_keepers(members, keep)
    index_of = {int(r): i for i, r in enumerate(row_ids)}
    similarity = [
        1.0 if r == k else jaccard(signatures, index_of[r], index_of[k])
        for r, k in zip(members["row_id"].to_list(), members["kept_row_id"].to_list(), strict=True)
    ]
    members = members.with_columns(pl.Series("similarity", similarity, dtype=pl.Float64))
    is_other = pl.col("row_id") != pl.col("kept_row_id")
    stats = {
        "lsh": params.as_dict() | {"scheme": SCHEME, "shingle_size": config.shingle_size, "seed": config.seed},
        "candidate_pairs": int(candidates.shape[0]),
        "pairs_verified_exactly": checked,
        "cluster_edges": int(edges.shape[0]),
        "clusters": int(members["cluster_id"].n_unique()),
        "rows_in_clusters": members.height,
        "action": config.action,
    }
    if config.action == "flag":
        kept = flag_rows(frame, members["row_id"], "near_duplicate")
        action = pl.when(is_other).then(pl.lit("flagged")).otherwise(pl.lit("kept"))
        return StepResult(kept=kept, stats=stats | {"dropped": 0},
                          clusters=cluster_frame(members, "near", action, pl.col("similarity")))
    dropped = members.filter(is_other)
    rejects = as_rejects(
        dropped,
        step="near_dedup",
        reason="near_duplicate",
        detail=pl.format("jaccard {} with row {}", pl.col("similarity").round(3), pl.col("kept_row_id")),
        cluster_id=pl.col("cluster_id"),
        kept_row_id=pl.col("kept_row_id"),
    )
    action = pl.when(is_other).then(pl.lit("dropped")).otherwise(pl.lit("kept"))
    return StepResult(
        kept=frame.filter(~pl.col("row_id").is_in(dropped["row_id"].implode())),
        rejects=rejects,
        stats=stats | {"dropped": dropped.height},
        clusters=cluster_frame(members, "near", action, pl.col("similarity")),
    )
