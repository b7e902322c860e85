"""Quality filters over the prompt/response views, and the per-row quality score.

Each row is judged by every filter; the first failing one (in the order of
``FILTER_ORDER``) is its reject reason and the detail names all that failed,
so fixing one problem does not hide the next. Length quantiles (characters,
and tokens when a tokenizer is configured) go into the stats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from harness.config import ConfigError, DataKind, FilterConfig
from harness.data.dedup.minhash import distinct_per_text, shingle_hashes, word_hashes
from harness.data.rejects import StepResult, as_rejects, count_reasons

FILTER_ORDER = (
    "empty_prompt",
    "empty_response",
    "placeholder_response",
    "response_equals_prompt",
    "refusal",
    "too_short_prompt",
    "too_long_prompt",
    "too_short_response",
    "too_long_response",
    "too_many_tokens",
    "repetitive_response",
    "non_alphabetic_response",
)
QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)
TokenCounter = Callable[[Sequence[str]], list[int]]


def repeated_ngram_ratio(texts: pl.Series, n: int) -> pl.Series:
    """Share of word n-gram occurrences that repeat an earlier one (0 = none, near 1 = a loop).

    The same hashed shingles MinHash uses, so it is vectorised: a Python loop per
    row cost 4 s per 200k rows.
    """
    words_hashed, lengths = word_hashes(texts)
    gram_hashes, counts = shingle_hashes(words_hashed, lengths, n)
    _, distinct = distinct_per_text(gram_hashes, counts)
    ratio = np.where(lengths >= n, 1.0 - distinct / np.maximum(counts, 1), 0.0)
    return pl.Series("_repeated_ngram_ratio", ratio, dtype=pl.Float64)


def _norm(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()


def add_quality_columns(frame: pl.DataFrame, config: FilterConfig, count_tokens: TokenCounter | None) -> pl.DataFrame:
    """Per-row measurements the filters and the 'quality' keep policy use (columns start with '_')."""
    n = config.repeated_ngram_n
    frame = frame.with_columns(
        pl.col("prompt_text").str.len_chars().alias("_prompt_chars"),
        pl.col("response_text").str.len_chars().alias("_response_chars"),
        pl.col("response_text").str.count_matches(r"\S").alias("_response_visible"),
        (
            pl.col("response_text").str.count_matches(r"\p{Alphabetic}")
            / pl.col("response_text").str.count_matches(r"\S").clip(lower_bound=1)
        ).alias("_alpha_ratio"),
        pl.col("response_text").str.count_matches(r"\w+").alias("_response_words"),
        repeated_ngram_ratio(frame["response_text"], n),
    )
    if count_tokens is not None:
        frame = frame.with_columns(
            pl.Series("_prompt_tokens", count_tokens(frame["prompt_text"].to_list()), dtype=pl.Int64),
            pl.Series("_response_tokens", count_tokens(frame["response_text"].to_list()), dtype=pl.Int64),
        )
    repetition_penalty = pl.when(pl.col("_response_words") >= config.repetition_min_words).then(
        pl.col("_repeated_ngram_ratio")
    ).otherwise(0.0)
    length_score = (pl.col("_response_chars").cast(pl.Float64) / 200.0).clip(upper_bound=1.0)
    return frame.with_columns(
        ((pl.col("_alpha_ratio") + (1.0 - repetition_penalty) + length_score) / 3.0).alias("_quality")
    )


def _failures(kind: DataKind, config: FilterConfig) -> dict[str, pl.Expr]:
    """Filter name -> expression that is True where the row fails it."""
    checks: dict[str, pl.Expr] = {
        "empty_prompt": pl.col("prompt_text").str.strip_chars() == "",
        "empty_response": pl.col("response_text").str.strip_chars() == "",
    }
    if config.min_prompt_chars is not None:
        checks["too_short_prompt"] = pl.col("_prompt_chars") < config.min_prompt_chars
    if config.max_prompt_chars is not None:
        checks["too_long_prompt"] = pl.col("_prompt_chars") > config.max_prompt_chars
    if config.max_tokens is not None:
        checks["too_many_tokens"] = (pl.col("_prompt_tokens") + pl.col("_response_tokens")) > config.max_tokens
    if kind == "classification":
        return checks
    placeholders = [p.strip().lower() for p in config.placeholders]
    checks["placeholder_response"] = (
        pl.col("response_text").str.strip_chars().str.to_lowercase().str.strip_chars_end(".").is_in(placeholders)
    )
    if config.min_response_chars is not None:
        checks["too_short_response"] = pl.col("_response_chars") < config.min_response_chars
    if config.max_response_chars is not None:
        checks["too_long_response"] = pl.col("_response_chars") > config.max_response_chars
    if config.max_repeated_ngram_ratio is not None:
        checks["repetitive_response"] = (pl.col("_response_words") >= config.repetition_min_words) & (
            pl.col("_repeated_ngram_ratio") > config.max_repeated_ngram_ratio
        )
    if config.refusal_patterns:
        pattern = "(?i)" + "|".join(f"(?:{p})" for p in config.refusal_patterns)
        checks["refusal"] = pl.col("response_text").str.contains(pattern)
    if config.min_alpha_ratio is not None:
        checks["non_alphabetic_response"] = (pl.col("_response_visible") >= config.alpha_min_chars) & (
            pl.col("_alpha_ratio") < config.min_alpha_ratio
        )
    if config.response_equals_prompt:
        checks["response_equals_prompt"] = (_norm("response_text") == _norm("prompt_text")) & (
            pl.col("_response_visible") > 0
        )
    return checks


def validate_patterns(config: FilterConfig) -> None:
    """Refusal patterns are user regexes run by polars (Rust regex: no look-around): fail early, naming the bad one."""
    for pattern in config.refusal_patterns:
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except pl.exceptions.ComputeError as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise ConfigError(f"filters.refusal_patterns: {pattern!r} is not a valid regex ({reason})") from None


def _quantiles(series: pl.Series) -> dict[str, float]:
    if series.is_empty():
        return {}
    return {f"p{int(q * 100)}": float(series.quantile(q, interpolation="nearest")) for q in QUANTILES} | {
        "mean": round(float(series.mean()), 2)
    }


def length_stats(frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    columns = {"prompt_chars": "_prompt_chars", "response_chars": "_response_chars",
               "prompt_tokens": "_prompt_tokens", "response_tokens": "_response_tokens"}
    return {name: _quantiles(frame[col]) for name, col in columns.items() if col in frame.columns}


def apply_filters(frame: pl.DataFrame, *, kind: DataKind, config: FilterConfig) -> StepResult:
    """Reject rows that fail any filter; needs the quality columns (``add_quality_columns``)."""
    checks = _failures(kind, config)
    ordered = [name for name in FILTER_ORDER if name in checks]
    failed = pl.concat_list(
        [pl.when(checks[name]).then(pl.lit(name)).otherwise(pl.lit(None, dtype=pl.String)) for name in ordered]
    ).list.drop_nulls()
    judged = frame.with_columns(failed.alias("_failed"))
    bad = pl.col("_failed").list.len() > 0
    dropped = judged.filter(bad)
    rejects = as_rejects(
        dropped,
        step="filter",
        reason=pl.col("_failed").list.first(),
        detail=pl.col("_failed").list.join(", "),
    )
    return StepResult(
        kept=judged.filter(~bad).drop("_failed"),
        rejects=rejects,
        stats={"dropped": count_reasons(rejects)},
    )
