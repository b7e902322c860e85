"""This iteration against the previous one, decided with paired tests so noise is not called progress.

Test examples are paired by their normalised prompt (a new split can give an
example another row id). For scores (higher is better) the mean per-example
difference gets a paired bootstrap interval: improved or regressed only when
the interval excludes zero. For error categories, an exact McNemar test on the
examples that changed: resolved (now none), improved or regressed only when
p < ``ALPHA``. Flips list the examples that went from wrong to right and back.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import binomtest

from harness.data.dedup.exact import normalized
from harness.eval.categories import CATEGORIES
from harness.eval.stats import bootstrap_interval

ALPHA = 0.05
SCORES = ("token_f1", "rougeL", "exact_match")


def _model_rows(predictions: pl.DataFrame) -> pl.DataFrame:
    model = "tuned" if "tuned" in predictions["model"].unique().to_list() else "base"
    return predictions.filter(pl.col("model") == model).with_columns(normalized("prompt_text").alias("_key")).unique(
        "_key", keep="first", maintain_order=True)


def paired(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    columns = ["_key", "prompt_text", *SCORES, *(f"is_{c}" for c in CATEGORIES)]
    before = _model_rows(previous).select(columns)
    after = _model_rows(current).select(columns)
    return before.join(after, on="_key", suffix="_now")


def mcnemar_p(before: np.ndarray, after: np.ndarray) -> float:
    fixed, broke = int(np.sum(before & ~after)), int(np.sum(~before & after))
    return 1.0 if fixed + broke == 0 else float(binomtest(fixed, fixed + broke, 0.5).pvalue)


def _change(diff: np.ndarray, *, resamples: int, seed: int) -> dict:
    """Mean paired difference with its bootstrap interval; a status only when the interval excludes zero."""
    low, high = bootstrap_interval(len(diff), lambda idx: float(np.mean(diff[idx])), resamples=resamples, seed=seed)
    status = "improved" if low > 0 else "regressed" if high < 0 else "unchanged"
    return {"change": float(diff.mean()) if len(diff) else 0.0, "ci_low": low, "ci_high": high, "status": status}


def compare_benchmarks(previous: dict, current: dict, *, resamples: int = 1000, seed: int = 0) -> dict:
    """Benchmarks run in both evaluations: their items are the same, so they pair item by item."""
    result = {}
    for task, models in current.items():
        model = "tuned" if "tuned" in models else "base"
        before = previous.get(task, {}).get(model)
        now = models[model]
        if before is None or len(before["per_item"]) != len(now["per_item"]):
            continue
        diff = np.array(now["per_item"]) - np.array(before["per_item"])
        result[task] = {"metric": now["metric"], "before": float(np.mean(before["per_item"])),
                        "now": float(np.mean(now["per_item"]))} | _change(diff, resamples=resamples, seed=seed)
    return result


def compare(previous: pl.DataFrame, current: pl.DataFrame, *, resamples: int = 1000, seed: int = 0) -> dict:
    pairs = paired(previous, current)
    result: dict = {"paired_examples": pairs.height, "scores": {}, "categories": {}, "flips": {}}
    for score in SCORES:
        diff = (pairs[f"{score}_now"] - pairs[score]).to_numpy()
        result["scores"][score] = {"before": float(pairs[score].mean() or 0.0),
                                   "now": float(pairs[f"{score}_now"].mean() or 0.0)} | _change(
            diff, resamples=resamples, seed=seed)
    for category in CATEGORIES:
        before = pairs[f"is_{category}"].to_numpy().astype(bool)
        after = pairs[f"is_{category}_now"].to_numpy().astype(bool)
        p = mcnemar_p(before, after)
        if p < ALPHA:
            status = ("resolved" if after.sum() == 0 else "improved") if after.sum() < before.sum() else "regressed"
        else:
            status = "unchanged"
        result["categories"][category] = {"before": int(before.sum()), "now": int(after.sum()), "p_value": p,
                                          "status": status}
    wrong_before, wrong_now = pairs["is_wrong_answer"].to_numpy(), pairs["is_wrong_answer_now"].to_numpy()
    prompts = pairs["prompt_text"].to_list()
    result["flips"] = {
        "wrong_to_right": [prompts[i] for i in np.nonzero(wrong_before & ~wrong_now)[0]],
        "right_to_wrong": [prompts[i] for i in np.nonzero(~wrong_before & wrong_now)[0]],
    }
    result["regressions"] = [f"score {k}" for k, v in result["scores"].items() if v["status"] == "regressed"] + [
        f"category {k}" for k, v in result["categories"].items() if v["status"] == "regressed"]
    return result
