"""The rejects frame: one row per dropped input row, with the step and reason.

Every step that drops rows hands them to ``as_rejects``; the pipeline stacks
the results, so ``rows read = rows kept + rows rejected`` can be checked per
file at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

REJECT_SCHEMA = {
    "row_id": pl.Int64,
    "source_file": pl.String,
    "source_line": pl.Int64,
    "step": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "cluster_id": pl.Int64,
    "kept_row_id": pl.Int64,
    "record": pl.String,
}
CLUSTER_SCHEMA = {
    "cluster_id": pl.Int64,
    "kind": pl.String,
    "row_id": pl.Int64,
    "kept_row_id": pl.Int64,
    "similarity": pl.Float64,
    "action": pl.String,
}
_ROW_COLUMNS = ("prompt_text", "response_text")


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def as_rejects(
    dropped: pl.DataFrame,
    *,
    step: str,
    reason: str | pl.Expr,
    detail: str | pl.Expr = "",
    cluster_id: pl.Expr | None = None,
    kept_row_id: pl.Expr | None = None,
) -> pl.DataFrame:
    """Project dropped rows of a records frame onto the rejects schema.

    ``record`` keeps the row's own columns as JSON, so a rejected row can be
    inspected, fixed and fed back without going to the source file.
    """
    if dropped.is_empty():
        return empty_rejects()
    data_columns = [c for c in dropped.columns if c not in _ROW_COLUMNS and c not in REJECT_SCHEMA and not c.startswith("_")]
    def as_expr(value: str | pl.Expr) -> pl.Expr:
        return pl.lit(value) if isinstance(value, str) else value

    return dropped.select(
        pl.col("row_id").cast(pl.Int64),
        pl.col("source_file"),
        pl.col("source_line").cast(pl.Int64),
        pl.lit(step).alias("step"),
        as_expr(reason).cast(pl.String).alias("reason"),
        as_expr(detail).cast(pl.String).alias("detail"),
        (cluster_id if cluster_id is not None else pl.lit(None)).cast(pl.Int64).alias("cluster_id"),
        (kept_row_id if kept_row_id is not None else pl.lit(None)).cast(pl.Int64).alias("kept_row_id"),
        pl.struct(data_columns).struct.json_encode().alias("record"),
    )


@dataclass
class StepResult:
    """What a pipeline step returns: the rows it kept, the rows it dropped, its counts."""

    kept: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=empty_rejects)
    stats: dict = field(default_factory=dict)
    clusters: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CLUSTER_SCHEMA))


def flag_rows(frame: pl.DataFrame, row_ids: pl.Series, flag: str) -> pl.DataFrame:
    """Append ``flag`` to the ``flags`` of the given rows: kept, but marked for later checks."""
    return frame.with_columns(
        pl.when(pl.col("row_id").is_in(row_ids.implode()))
        .then(pl.concat_list(pl.col("flags"), pl.lit([flag])))
        .otherwise(pl.col("flags"))
        .alias("flags")
    )


def count_reasons(rejects: pl.DataFrame) -> dict[str, int]:
    if rejects.is_empty():
        return {}
    counts = rejects.group_by("reason").len().sort("reason")
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))
