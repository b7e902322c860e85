"""Text normalisation of every text field; each step counts the rows it changed.

Order matters: mojibake is repaired before NFKC (ftfy needs the broken bytes
as they are), HTML entities are unescaped before control characters go (an
entity can encode one), whitespace is last. Steps that need Python (ftfy,
html) only run on the rows that can need them, so ASCII-only text costs no
Python call.
"""

from __future__ import annotations

import html

import ftfy
import polars as pl

from collections.abc import Callable

from harness.config import CleanConfig, DataKind
from harness.data.rejects import StepResult
from harness.data.schema import TEXT_FIELDS

_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{200B}-\x{200D}\x{2060}\x{FEFF}]"
_ENTITY = r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_NON_ASCII = r"[^\x00-\x7F]"


def _python_fix(column: pl.Expr, guard: str, fix) -> pl.Expr:
    return (
        pl.when(column.str.contains(guard))
        .then(column.map_elements(fix, return_dtype=pl.String, skip_nulls=True))
        .otherwise(column)
    )


def _normalize_whitespace(column: pl.Expr) -> pl.Expr:
    return (
        column.str.replace_all(r"\r\n?", "\n")
        .str.replace_all(r"[ \t]+\n", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.replace_all(r"(\S)[ \t]{2,}", "$1 ")
        .str.strip_chars()
    )


def cleaning_steps(config: CleanConfig) -> list[tuple[str, Callable[[pl.Expr], pl.Expr]]]:
    """(step name, expression builder) in the order they apply."""
    steps: list[tuple[str, Callable[[pl.Expr], pl.Expr]]] = []
    if config.fix_mojibake:
        steps.append(("fix_mojibake", lambda c: _python_fix(c, _NON_ASCII, ftfy.fix_encoding)))
    if config.unescape_html:
        steps.append(("unescape_html", lambda c: _python_fix(c, _ENTITY, html.unescape)))
    if config.nfkc:
        steps.append(("nfkc", lambda c: c.str.normalize("NFKC")))
    if config.remove_control_chars:
        steps.append(("remove_control_chars", lambda c: c.str.replace_all(_CONTROL, "")))
    if config.normalize_whitespace:
        steps.append(("normalize_whitespace", _normalize_whitespace))
    return steps


def _clean_columns(frame: pl.DataFrame, columns: list[str], config: CleanConfig) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
    """Apply every step to every column; per step, a mask of the rows it changed."""
    changed: dict[str, pl.Series] = {}
    for name, build in cleaning_steps(config):
        before = frame.select(columns)
        frame = frame.with_columns(build(pl.col(c)).alias(c) for c in columns)
        mask = pl.Series([False] * frame.height)
        for c in columns:
            mask = mask | (before[c] != frame[c]).fill_null(False)
        changed[name] = mask
    return frame, changed


def _clean_chat(frame: pl.DataFrame, config: CleanConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    """Chat contents are cleaned on a long frame (one message a row), then put back."""
    messages = (
        frame.select("row_id", "messages")
        .with_columns(pl.col("messages").list.eval(pl.element().struct.field("role")).alias("_roles"),
                      pl.col("messages").list.eval(pl.element().struct.field("content")).alias("_contents"))
        .select("row_id", "_roles", "_contents")
        .explode("_roles", "_contents")
    )
    cleaned, changed = _clean_columns(messages, ["_contents"], config)
    counts = {name: cleaned.filter(mask)["row_id"].n_unique() for name, mask in changed.items()}
    rebuilt = cleaned.group_by("row_id", maintain_order=True).agg(
        pl.struct(pl.col("_roles").alias("role"), pl.col("_contents").alias("content")).alias("messages")
    )
    frame = frame.drop("messages").join(rebuilt, on="row_id", how="left", maintain_order="left")
    return frame, counts


def _normalize_no_input(frame: pl.DataFrame, markers: list[str]) -> tuple[pl.DataFrame, int]:
    key = pl.col("input").str.strip_chars().str.to_lowercase()
    is_marker = key.is_in([m.lower() for m in markers]) & (pl.col("input") != "")
    count = frame.select(is_marker.sum()).item()
    return frame.with_columns(pl.when(is_marker).then(pl.lit("")).otherwise(pl.col("input")).alias("input")), count


def clean(frame: pl.DataFrame, *, kind: DataKind, config: CleanConfig) -> StepResult:
    """Normalise text fields in place. Drops nothing; counts rows changed per step."""
    if kind == "chat":
        frame, counts = _clean_chat(frame, config)
    else:
        columns = [c for c in TEXT_FIELDS[kind] if c in frame.columns]
        frame, changed = _clean_columns(frame, columns, config)
        counts = {name: int(mask.sum()) for name, mask in changed.items()}
    if kind == "instruction" and config.normalize_no_input_markers:
        frame, counts["no_input_marker"] = _normalize_no_input(frame, config.no_input_markers)
    return StepResult(kept=frame, stats={"rows_changed": counts})
