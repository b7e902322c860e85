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
# UTF-8 read as Latin-1 or cp1252 turns every multi-byte character into a lead
# byte (U+00C2-U+00F4) followed by a continuation byte (U+0080-U+00BF, or the
# cp1252 letters those bytes become). Text without such a pair has no mojibake
# for ftfy to fix, so "café" never reaches Python.
_MOJIBAKE = (
    r"[\x{C2}-\x{F4}][\x{80}-\x{BF}\x{152}\x{153}\x{160}\x{161}\x{178}\x{17D}\x{17E}\x{192}\x{2C6}\x{2DC}"
    r"\x{2013}\x{2014}\x{2018}-\x{201A}\x{201C}-\x{201E}\x{2020}-\x{2022}\x{2026}\x{2030}\x{2039}\x{203A}\x{20AC}\x{2122}]"
)
Fix = Callable[[pl.Series], pl.Series]


def only_where(guard: str, fix: Callable[[str], str]) -> Fix:
    """Apply a Python fix to the values matching ``guard`` and leave the rest alone.

    A ``pl.when(guard).then(map_elements(...))`` would not do: polars evaluates
    every branch on every row, so the Python function would still see them all.
    """

    def apply(values: pl.Series) -> pl.Series:
        rows = values.str.contains(guard).fill_null(False).arg_true()
        if rows.is_empty():
            return values
        fixed = pl.Series([fix(v) for v in values.gather(rows).to_list()], dtype=pl.String)
        return values.scatter(rows, fixed)

    return apply


def _normalize_whitespace(values: pl.Series) -> pl.Series:
    return (
        values.str.replace_all(r"\r\n?", "\n")
        .str.replace_all(r"[ \t]+\n", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.replace_all(r"(\S)[ \t]{2,}", "$1 ")
        .str.strip_chars()
    )


def cleaning_steps(config: CleanConfig) -> list[tuple[str, Fix]]:
    """(step name, fix) in the order they apply."""
    steps: list[tuple[str, Fix]] = []
    if config.fix_mojibake:
        steps.append(("fix_mojibake", only_where(_MOJIBAKE, ftfy.fix_encoding)))
    if config.unescape_html:
        steps.append(("unescape_html", only_where(_ENTITY, html.unescape)))
    if config.nfkc:
        steps.append(("nfkc", lambda v: v.str.normalize("NFKC")))
    if config.remove_control_chars:
        steps.append(("remove_control_chars", lambda v: v.str.replace_all(_CONTROL, "")))
    if config.normalize_whitespace:
        steps.append(("normalize_whitespace", _normalize_whitespace))
    return steps


def _clean_columns(frame: pl.DataFrame, columns: list[str], config: CleanConfig) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
    """Apply every step to every column; per step, a mask of the rows it changed."""
    changed: dict[str, pl.Series] = {}
    for name, fix in cleaning_steps(config):
        mask = pl.Series([False] * frame.height)
        for c in columns:
            after = fix(frame[c]).alias(c)
            mask = mask | (frame[c] != after).fill_null(False)
            frame = frame.with_columns(after)
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
