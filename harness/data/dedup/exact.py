"""Exact duplicates on normalised text, and same-prompt-different-answer groups."""

from __future__ import annotations

import polars as pl

from harness.config import KeepPolicy
from harness.data.dedup.clusters import with_keepers
from harness.data.rejects import CLUSTER_SCHEMA, StepResult, as_rejects, flag_rows

VIEW_COLUMNS = {"prompt": "prompt_text", "response": "response_text"}


def normalized(column: str) -> pl.Expr:
    """Case, punctuation and spacing do not make two texts different."""
    return pl.col(column).str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()


def dedup_key(fields: list[str]) -> pl.Expr:
    return pl.concat_str([normalized(VIEW_COLUMNS[f]) for f in fields], separator="\x1f")


def cluster_frame(members: pl.DataFrame, kind: str, action: pl.Expr, similarity: pl.Expr) -> pl.DataFrame:
    return members.select(
        pl.col("cluster_id"),
        pl.lit(kind).alias("kind"),
        pl.col("row_id"),
        pl.col("kept_row_id"),
        similarity.cast(pl.Float64).alias("similarity"),
        action.alias("action"),
    ).cast(CLUSTER_SCHEMA)


def exact_duplicates(frame: pl.DataFrame, *, fields: list[str], keep: KeepPolicy) -> StepResult:
    """Keep one row per group of identical normalised text; the others are rejected."""
    keyed = frame.with_columns(dedup_key(fields).alias("_key"))
    members = keyed.filter(pl.len().over("_key") > 1).with_columns(
        pl.col("row_id").min().over("_key").alias("cluster_id")
    )
    members = with_keepers(members, keep)
    is_dropped = pl.col("row_id") != pl.col("kept_row_id")
    dropped = members.filter(is_dropped)
    rejects = as_rejects(
        dropped.drop("_key"),
        step="exact_dedup",
        reason="exact_duplicate",
        detail=pl.format("same text as row {}", pl.col("kept_row_id")),
        cluster_id=pl.col("cluster_id"),
        kept_row_id=pl.col("kept_row_id"),
    )
    clusters = cluster_frame(members, "exact", pl.when(is_dropped).then(pl.lit("dropped")).otherwise(pl.lit("kept")), pl.lit(1.0))
    stats = {"clusters": members["cluster_id"].n_unique(), "dropped": dropped.height}
    return StepResult(kept=frame.filter(~pl.col("row_id").is_in(dropped["row_id"].implode())), rejects=rejects,
                      stats=stats, clusters=clusters)


def conflicting_responses(frame: pl.DataFrame, *, policy: str, keep: KeepPolicy) -> StepResult:
    """Rows whose prompts are identical but whose responses differ.

    Always reported: the model is taught two answers to one question. The
    policy keeps them all (flagged), keeps one, or drops the whole group.
    """
    keyed = frame.with_columns(normalized("prompt_text").alias("_pkey"), normalized("response_text").alias("_rkey"))
    members = keyed.filter((pl.col("_rkey").n_unique().over("_pkey") > 1) & (pl.col("_pkey") != "")).with_columns(
        pl.col("row_id").min().over("_pkey").alias("cluster_id")
    )
    members = with_keepers(members, keep)
    if policy == "keep_all":
        to_drop = members.head(0)
        action = pl.lit("flagged")
    elif policy == "keep_one":
        to_drop = members.filter(pl.col("row_id") != pl.col("kept_row_id"))
        action = pl.when(pl.col("row_id") == pl.col("kept_row_id")).then(pl.lit("kept")).otherwise(pl.lit("dropped"))
    else:
        to_drop = members
        action = pl.lit("dropped")
    rejects = as_rejects(
        to_drop.drop("_pkey", "_rkey"),
        step="conflicts",
        reason="conflicting_response",
        detail=pl.format("same prompt as row {}, different response", pl.col("cluster_id")),
        cluster_id=pl.col("cluster_id"),
        kept_row_id=pl.col("kept_row_id") if policy == "keep_one" else None,
    )
    kept = frame.filter(~pl.col("row_id").is_in(to_drop["row_id"].implode()))
    kept = flag_rows(kept, members["row_id"], "conflicting_response")
    stats = {"groups": members["cluster_id"].n_unique(), "rows": members.height, "policy": policy,
             "dropped": to_drop.height}
    return StepResult(kept=kept, rejects=rejects, stats=stats,
                      clusters=cluster_frame(members, "conflicting_responses", action, pl.lit(None)))
