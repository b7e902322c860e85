"""Drop training rows that share a long word n-gram with a benchmark or test file.

A benchmark text shorter than n words is matched as a whole (as one m-gram,
m = its length, at least ``MIN_WORDS``), so short questions are caught too.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from harness.config import DecontaminationConfig
from harness.data.dedup.minhash import words
from harness.data.rejects import StepResult, as_rejects, count_reasons
from harness.io.readers import ParsedRow, detect_format, expand_inputs, iter_records

MIN_WORDS = 5


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _grams(tokens: list[str], m: int) -> set[str]:
    return {" ".join(tokens[i : i + m]) for i in range(len(tokens) - m + 1)}


def benchmark_grams(paths: list[Path], n: int) -> dict[int, dict[str, str]]:
    """m -> {m-gram: benchmark file it came from}."""
    grams: dict[int, dict[str, str]] = defaultdict(dict)
    for path in paths:
        for item in iter_records(path, detect_format(path)):
            if not isinstance(item, ParsedRow):
                continue
            for text in _strings(item.value):
                tokens = words(text)
                m = n if len(tokens) >= n else len(tokens)
                if m < MIN_WORDS:
                    continue
                for gram in _grams(tokens, m):
                    grams[m].setdefault(gram, path.name)
    return grams


def decontaminate(frame: pl.DataFrame, *, config: DecontaminationConfig, base: Path) -> StepResult:
    if not config.files or frame.is_empty():
        return StepResult(kept=frame, stats={"files": [], "dropped": {}})
    paths = [p for pattern in config.files for p in expand_inputs(pattern, base)]
    grams = benchmark_grams(paths, config.ngram)
    hits: list[str | None] = []
    for prompt, response in frame.select("prompt_text", "response_text").iter_rows():
        tokens = words(prompt) + ["\x00"] + words(response)
        hit = None
        for m, table in grams.items():
            hit = next((table[g] for g in _grams(tokens, m) if g in table), None)
            if hit:
                break
        hits.append(hit)
    flagged = frame.with_columns(pl.Series("_hit", hits, dtype=pl.String))
    dropped = flagged.filter(pl.col("_hit").is_not_null())
    rejects = as_rejects(dropped, step="decontaminate", reason="contaminated",
                         detail=pl.format("shares text with {}", pl.col("_hit")))
    per_file = dropped.group_by("_hit").len().sort("_hit")
    return StepResult(
        kept=flagged.filter(pl.col("_hit").is_null()).drop("_hit"),
        rejects=rejects,
        stats={"files": [p.name for p in paths], "ngram": config.ngram,
               "dropped": dict(per_file.iter_rows()), "reasons": count_reasons(rejects)},
    )
