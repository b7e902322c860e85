"""Files -> one records frame (row_id, source_file, source_line, fields, metadata).

Malformed rows (broken JSON, invalid UTF-8, wrong types, missing required
fields) become rejects with file, line and reason; with ``strict`` the first
one stops the run instead. Problems with a whole file (missing, empty, none of
the required columns) are a ``DataError`` with one line to act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from harness.config import DataConfig
from harness.data.rejects import REJECT_SCHEMA, StepResult, empty_rejects
from harness.data.schema import CANONICAL_FIELDS, INTERNAL_COLUMNS, REQUIRED_FIELDS, RowError, canonical_record, source_columns
from harness.io.readers import DataError, ParseFailure, detect_format, expand_inputs, iter_records


def _display_path(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)


def _metadata_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Metadata columns; a column with mixed types across rows is kept as JSON text."""
    if not rows:
        return pl.DataFrame()
    try:
        return pl.DataFrame(rows, infer_schema_length=None)
    except (TypeError, pl.exceptions.PolarsError):
        keys = list(dict.fromkeys(k for row in rows for k in row))
        columns = {}
        for key in keys:
            values = [row.get(key) for row in rows]
            try:
                columns[key] = pl.Series(key, values, strict=True)
            except (TypeError, pl.exceptions.PolarsError):
                columns[key] = pl.Series(key, [None if v is None else json.dumps(v) for v in values], dtype=pl.String)
        return pl.DataFrame(columns)


def read_inputs(
    config: DataConfig,
    base: Path,
    *,
    strict: bool = False,
    on_file: Callable[[str, int], None] | None = None,
) -> tuple[StepResult, dict[str, int]]:
    """Read every input; returns the records, parse rejects, and rows read per file."""
    names = source_columns(config.kind, config.columns, config.chat)
    required = [names[f] for f in REQUIRED_FIELDS[config.kind]]
    canonical: list[dict[str, Any]] = []
    metadata: list[dict[str, Any]] = []
    reject_rows: list[dict[str, Any]] = []
    rows_read: dict[str, int] = {}
    next_id = 0
    for spec in config.inputs:
        for path in expand_inputs(spec.path, base):
            shown = _display_path(path, base)
            if shown in rows_read:
                continue
            fmt = detect_format(path, spec.format)
            seen_keys: set[str] = set()
            count = 0
            for item in iter_records(path, fmt):
                count += 1
                row_id, next_id = next_id, next_id + 1
                where = {"row_id": row_id, "source_file": shown, "source_line": item.line}
                if isinstance(item, ParseFailure):
                    failure = (item.reason, item.detail, item.raw)
                else:
                    if isinstance(item.value, dict):
                        seen_keys.update(item.value)
                    try:
                        record, extra = canonical_record(item.value, config.kind, names, config.chat)
                    except RowError as exc:
                        failure = (exc.reason, exc.detail, json.dumps(item.value, ensure_ascii=False, default=str)[:500])
                    else:
                        clash = sorted(set(extra) & set(INTERNAL_COLUMNS))
                        if clash:
                            raise DataError(
                                f"{shown}: column(s) {clash} are reserved by harness; rename them in the data"
                            )
                        canonical.append({**where, **record})
                        metadata.append(extra)
                        continue
                if strict:
                    raise DataError(f"{shown}:{item.line}: {failure[0]}: {failure[1]} (--strict stops at the first bad row)")
                reject_rows.append({**where, "step": "read", "reason": failure[0], "detail": failure[1],
                                    "cluster_id": None, "kept_row_id": None, "record": failure[2]})
            if count == 0:
                raise DataError(f"{shown}: the file holds no rows")
            if seen_keys and not seen_keys & set(required):
                raise DataError(
                    f"{shown}: none of the required columns {required} is present (found {sorted(seen_keys)[:12]}); "
                    "map your column names with data.columns in the config"
                )
            rows_read[shown] = count
            if on_file is not None:
                on_file(shown, count)
    records = pl.DataFrame(canonical, infer_schema_length=None) if canonical else _empty_records(config)
    extra = _metadata_frame(metadata)
    if extra.width:
        records = pl.concat([records, extra], how="horizontal")
    rejects = pl.DataFrame(reject_rows, schema=REJECT_SCHEMA) if reject_rows else empty_rejects()
    return StepResult(kept=records, rejects=rejects, stats={"rows_read": sum(rows_read.values())}), rows_read


def _empty_records(config: DataConfig) -> pl.DataFrame:
    schema: dict[str, Any] = {"row_id": pl.Int64, "source_file": pl.String, "source_line": pl.Int64}
    for field in CANONICAL_FIELDS[config.kind]:
        schema[field] = (
            pl.List(pl.Struct({"role": pl.String, "content": pl.String})) if field == "messages" else pl.String
        )
    return pl.DataFrame(schema=schema)
