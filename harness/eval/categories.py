"""Error categories per example; an example can carry several.

Each rule reads a predictions frame with ``prompt_text`` (the input),
``prediction``, ``reference`` and ``hit_max_tokens``, and returns a boolean
column. Thresholds live in ``eval.categories`` of the config.

- ``empty``: nothing but white space.
- ``refusal``: a boilerplate refusal ("As an AI language model ...": the
  prepare step's refusal patterns).
- ``truncated``: generation stopped at ``max_new_tokens``, not at an end.
- ``overlong``: more than ``overlong_ratio`` times the reference's words.
- ``repetition``: share of repeated word 3-grams above ``repetition_ratio``.
- ``misspelling``: words in no dictionary (pyspellchecker's English one, plus
  ``extra_words``) and in neither the input nor the reference.
- ``format_error``: ``expected_format`` json that does not parse, or a label
  outside the allowed set.
- ``hallucination``: numbers, dates, URLs or capitalised names in the answer
  that appear in neither the input nor the reference.
- ``inconsistency``: inputs that are near duplicates (word-shingle Jaccard at
  least ``inconsistency_similarity``) whose answers agree less than
  ``inconsistency_f1`` (token F1) or state different numbers.
- ``wrong_answer``: token F1 with the reference below ``wrong_answer_f1``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

import numpy as np
import polars as pl

from harness.config import DEFAULT_REFUSAL_PATTERNS, CategoryConfig
from harness.data.dedup.lsh import candidate_pairs, jaccard, lsh_parameters
from harness.data.dedup.minhash import minhash_signatures
from harness.data.filters import repeated_ngram_ratio

CATEGORIES = ("empty", "refusal", "truncated", "overlong", "repetition", "misspelling", "format_error",
              "hallucination", "inconsistency", "wrong_answer")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FACT = re.compile(
    r"https?://\S+|www\.\S+"  # URLs
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d[\d,]*(?:\.\d+)?\b"  # dates and numbers
    r"|(?<=[a-z,;:] )[A-Z][a-z]+(?: [A-Z][a-z]+)*"  # capitalised names inside a sentence
)


def token_f1(prediction: str, reference: str) -> float:
    from harness.eval.metrics.harness_token_f1.harness_token_f1 import f1

    return f1(prediction, reference)


@lru_cache(maxsize=1)
def _spellchecker():
    from spellchecker import SpellChecker

    return SpellChecker(language="en")


def misspelt_words(prediction: str, context: str, extra: frozenset[str] = frozenset()) -> set[str]:
    """Words of the prediction unknown to the dictionary and absent from input and reference."""
    known_here = {w.lower() for w in _WORD.findall(context)} | extra
    candidates = {w.lower() for w in _WORD.findall(prediction) if len(w) > 1} - known_here
    return set(_spellchecker().unknown(candidates)) if candidates else set()


def unsupported_facts(prediction: str, context: str) -> list[str]:
    """Numbers, dates, URLs and names the answer states but neither input nor reference contains."""
    lowered = context.lower()
    return [fact for fact in _FACT.findall(prediction) if fact.lower().rstrip(".,") not in lowered]


def _format_error(prediction: str, expected: str, labels: set[str]) -> bool:
    if expected == "json":
        try:
            json.loads(prediction)
        except ValueError:
            return True
        return False
    if expected == "label":
        return prediction.strip().lower() not in {label.lower() for label in labels}
    return False


def inconsistent_rows(prompts: list[str], predictions: list[str], config: CategoryConfig) -> np.ndarray:
    """Rows whose input has a near-duplicate whose answer contradicts theirs."""
    flags = np.zeros(len(prompts), dtype=bool)
    if len(prompts) < 2:
        return flags
    signatures = minhash_signatures(prompts, num_perm=128, seed=1, shingle_size=2)
    pairs = candidate_pairs(signatures, lsh_parameters(config.inconsistency_similarity, 128))
    for i, j in pairs.tolist():
        if jaccard(signatures, i, j) >= config.inconsistency_similarity and _contradict(predictions[i], predictions[j], config):
            flags[i] = flags[j] = True
    return flags


def _contradict(a: str, b: str, config: CategoryConfig) -> bool:
    """Answers disagree in wording, or state different numbers ("100 degrees" vs "50 degrees")."""
    numbers_a, numbers_b = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    return token_f1(a, b) < config.inconsistency_f1 or bool(numbers_a and numbers_b and numbers_a != numbers_b)


def categorise(frame: pl.DataFrame, config: CategoryConfig, *, labels: set[str] | None = None) -> pl.DataFrame:
    """Add a boolean column per category and ``categories`` (the list of those that apply)."""
    predictions = frame["prediction"].fill_null("").to_list()
    references = frame["reference"].fill_null("").to_list()
    prompts = frame["prompt_text"].fill_null("").to_list()
    extra = frozenset(w.lower() for w in config.extra_words)
    refusal = "(?i)" + "|".join(f"(?:{p})" for p in DEFAULT_REFUSAL_PATTERNS)
    pred_words = np.array([len(p.split()) for p in predictions])
    ref_words = np.array([len(r.split()) for r in references])
    f1 = np.array([token_f1(p, r) for p, r in zip(predictions, references, strict=True)])
    repeated = repeated_ngram_ratio(pl.Series(predictions, dtype=pl.String), 3).to_numpy()
    columns = {
        "empty": np.array([not p.strip() for p in predictions]),
        "refusal": frame["prediction"].fill_null("").str.contains(refusal).to_numpy(),
        "truncated": frame["hit_max_tokens"].fill_null(False).to_numpy() if "hit_max_tokens" in frame.columns
        else np.zeros(frame.height, dtype=bool),
        "overlong": (ref_words > 0) & (pred_words > config.overlong_ratio * ref_words),
        "repetition": (pred_words >= config.repetition_min_words) & (repeated > config.repetition_ratio),
        "misspelling": np.array([len(misspelt_words(p, f"{q} {r}", extra)) >= config.min_misspellings
                                 for p, q, r in zip(predictions, prompts, references, strict=True)]),
        "format_error": np.array([_format_error(p, config.expected_format, labels or set()) for p in predictions]),
        "hallucination": np.array([bool(unsupported_facts(p, f"{q} {r}"))
                                   for p, q, r in zip(predictions, prompts, references, strict=True)]),
        "inconsistency": inconsistent_rows(prompts, predictions, config),
        "wrong_answer": (ref_words > 0) & (f1 < config.wrong_answer_f1),
    }
    empty = columns["empty"]
    for name in ("misspelling", "hallucination", "repetition", "overlong", "inconsistency"):
        columns[name] &= ~empty
    frame = frame.with_columns(pl.Series(f"is_{name}", values, dtype=pl.Boolean) for name, values in columns.items())
    frame = frame.with_columns(pl.Series("token_f1", f1, dtype=pl.Float64))
    return frame.with_columns(
        pl.concat_list([pl.when(pl.col(f"is_{n}")).then(pl.lit(n)).otherwise(pl.lit(None, pl.String))
                        for n in CATEGORIES]).list.drop_nulls().alias("categories")
    )
