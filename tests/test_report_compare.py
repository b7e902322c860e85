"""Comparison between iterations: paired decisions on planted per-sample results."""

import random

import polars as pl

from harness.eval.categories import CATEGORIES
from harness.report.compare import compare, mcnemar_p


def predictions(prompts, f1, flags: dict[str, list[bool]]):
    n = len(prompts)
    data = {"model": ["tuned"] * n, "row_id": list(range(n)), "prompt_text": prompts, "token_f1": f1,
            "rougeL": f1, "exact_match": [float(x > 0.9) for x in f1]}
    for category in CATEGORIES:
        data[f"is_{category}"] = flags.get(category, [False] * n)
    return pl.DataFrame(data)


def test_resolved_improved_regressed_and_unchanged_are_told_apart():
    n = 60
    prompts = [f"Question number {i}?" for i in range(n)]
    rng = random.Random(0)
    before = predictions(prompts, [0.2] * n, {
        "repetition": [True] * 30 + [False] * 30,           # fixed everywhere -> resolved
        "hallucination": [False] * n,                       # appears in 25 -> regressed
        "misspelling": [i % 2 == 0 for i in range(n)],      # noise: shuffled -> unchanged
        "wrong_answer": [True] * 40 + [False] * 20,
    })
    now = predictions(prompts, [0.6] * n, {
        "repetition": [False] * n,
        "hallucination": [i < 25 for i in range(n)],
        "misspelling": [rng.random() < 0.5 for _ in range(n)],
        "wrong_answer": [False] * 20 + [True] * 40,
    }).reverse()  # another row order: pairing is by prompt
    result = compare(before, now, resamples=300)
    assert result["paired_examples"] == n
    assert result["scores"]["token_f1"]["status"] == "improved"
    statuses = {c: v["status"] for c, v in result["categories"].items()}
    assert statuses["repetition"] == "resolved" and statuses["hallucination"] == "regressed"
    assert statuses["misspelling"] == "unchanged"
    assert "category hallucination" in result["regressions"]
    flips = result["flips"]
    assert sorted(flips["wrong_to_right"]) == sorted(prompts[:20])
    assert sorted(flips["right_to_wrong"]) == sorted(prompts[40:])


def test_noise_is_not_progress():
    n = 40
    prompts = [f"Q{i}" for i in range(n)]
    rng = random.Random(1)
    before = predictions(prompts, [rng.random() for _ in range(n)], {})
    now = predictions(prompts, [rng.random() for _ in range(n)], {})
    assert compare(before, now, resamples=300)["scores"]["token_f1"]["status"] == "unchanged"
    assert mcnemar_p(__import__("numpy").array([True, False]), __import__("numpy").array([False, True])) == 1.0
