"""What great-expectations cannot express directly, computed with polars first.

Row-level facts become columns (token lengths, tokens of the response left after
truncation, refusal and PII flags, duplicate counts, train/test leaks);
data-set-level facts (rates, split shares, class shares) become constant
columns. The suites then assert on them with standard expectations, so every
check lands in one validation result.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from harness.config import FilterConfig, HarnessConfig
from harness.data.dedup.exact import normalized
from harness.data.filters import TokenCounter
from harness.data.pii import DETECTORS, scan_column
from harness.data.schema import text_views
from harness.data.split import SPLITS
from harness.io.readers import DataError

CHARS_PER_TOKEN = 4


def load_splits(data_dir: Path) -> pl.DataFrame:
    """The prepared splits, stacked, with a ``split`` column."""
    frames = []
    for split in SPLITS:
        path = data_dir / f"{split}.parquet"
        if path.is_file():
            frames.append(pl.read_parquet(path).with_columns(pl.lit(split).alias("split")))
    if not frames:
        raise DataError(f"{data_dir}: no prepared splits found; run `harness prepare CONFIG` first")
    return pl.concat(frames, how="diagonal_relaxed")


def _has_pii(values: pl.Series) -> pl.Series:
    """True where any kind of personal data is still present (redaction tags do not count)."""
    _, found = scan_column(values, dict.fromkeys(DETECTORS, "flag"))
    return pl.Series([False] * values.len(), dtype=pl.Boolean).scatter(found["_row"], True)


def add_row_facts(
    frame: pl.DataFrame, config: HarnessConfig, count_tokens: TokenCounter | None
) -> pl.DataFrame:
    """Per-row check columns."""
    frame = frame.with_columns(*text_views(config.data.kind))
    if count_tokens is not None:
        prompt_tokens = pl.Series(count_tokens(frame["prompt_text"].to_list()), dtype=pl.Int64)
        response_tokens = pl.Series(count_tokens(frame["response_text"].to_list()), dtype=pl.Int64)
    else:
        prompt_tokens = (frame["prompt_text"].str.len_chars() // CHARS_PER_TOKEN + 1).cast(pl.Int64)
        response_tokens = (frame["response_text"].str.len_chars() // CHARS_PER_TOKEN + 1).cast(pl.Int64)
    max_len = config.checks.max_seq_len
    refusal = "(?i)" + "|".join(f"(?:{p})" for p in (config.filters.refusal_patterns or FilterConfig().refusal_patterns))
    text = pl.concat_str([pl.col("prompt_text"), pl.col("response_text")], separator="\n")
    frame = frame.with_columns(
        prompt_tokens.alias("prompt_tokens"),
        response_tokens.alias("response_tokens"),
        _has_pii(frame.select(text).to_series()).alias("has_pii"),
    ).with_columns(
        (pl.col("prompt_tokens") + pl.col("response_tokens")).alias("total_tokens"),
        (pl.lit(max_len) - pl.col("prompt_tokens")).clip(lower_bound=0).clip(upper_bound=pl.col("response_tokens"))
        .alias("response_tokens_kept"),
        pl.col("response_text").str.contains(refusal).alias("is_refusal"),
        pl.len().over(normalized("prompt_text") + "\x1f" + normalized("response_text")).alias("duplicate_count"),
    )
    train_prompts = frame.filter(pl.col("split") == "train").select(normalized("prompt_text")).to_series().implode()
    return frame.with_columns(
        ((pl.col("split") != "train") & normalized("prompt_text").is_in(train_prompts)).alias("leaks_from_train"),
    )


def add_data_facts(frame: pl.DataFrame, config: HarnessConfig) -> pl.DataFrame:
    """Data-set-level check values, broadcast as constant columns."""
    total = max(frame.height, 1)
    facts = {
        "refusal_rate": frame["is_refusal"].sum() / total,
        "pii_rate": frame["has_pii"].sum() / total,
    }
    for split in SPLITS:
        facts[f"{split}_share"] = frame.filter(pl.col("split") == split).height / total
    if config.data.kind == "classification":
        shares = frame["label"].value_counts(normalize=True)
        facts["min_class_share"] = float(shares["proportion"].min()) if shares.height else 0.0
    return frame.with_columns(pl.lit(value, dtype=pl.Float64).alias(name) for name, value in facts.items())


def suite_parameters(frame: pl.DataFrame, config: HarnessConfig) -> dict:
    """Values the suites reference as ``{"$PARAMETER": name}``."""
    checks = config.checks
    ratios = {"train": config.split.train, "validation": config.split.validation, "test": config.split.test}
    params: dict = {
        "max_seq_len": checks.max_seq_len,
        "max_refusal_rate": checks.max_refusal_rate,
        "max_pii_rate": checks.max_pii_rate,
        "min_share_within_max_seq_len": 1.0 - checks.max_overlength_rate,
        "min_class_share": checks.min_class_share,
    }
    for split, ratio in ratios.items():
        params[f"min_{split}_share"] = max(0.0, ratio - checks.split_tolerance)
        params[f"max_{split}_share"] = min(1.0, ratio + checks.split_tolerance)
    if config.data.kind == "classification":
        allowed = checks.allowed_labels
        if allowed is None:
            allowed = sorted(frame.filter(pl.col("split") == "train")["label"].unique().to_list())
        params["allowed_labels"] = allowed
    return params
