"""The targeted-data report names planted failures and asks for the right data."""

import polars as pl

from harness.config import CategoryConfig
from harness.eval.categories import categorise
from harness.report.targeted import EXAMPLES_PER_FAILURE, MIN_REQUEST, targeted_report


def test_planted_failures_become_named_requests():
    rows = []
    for i in range(12):  # arithmetic: every answer wrong
        rows.append({"topic": "arithmetic", "prompt_text": f"Add {i} and {i + 3}.", "prediction": "Bananas are yellow.",
                     "reference": f"{i} plus {i + 3} equals {2 * i + 3}."})
    for i in range(12):  # geography: all right
        rows.append({"topic": "geography", "prompt_text": f"Name country number {i}.", "prediction": f"Country {i}.",
                     "reference": f"Country {i}."})
    rows.append({"topic": "geography", "prompt_text": "Describe rain.", "prediction": "rain rain rain rain rain rain "
                 "rain rain rain rain rain rain rain rain", "reference": "Rain is water falling from clouds."})
    frame = pl.DataFrame(rows).with_columns(pl.int_range(pl.len()).alias("row_id"), pl.lit(False).alias("hit_max_tokens"),
                                            pl.lit("tuned").alias("model"))
    predictions = categorise(frame, CategoryConfig())
    train = pl.DataFrame({"row_id": [100, 101, 102],
                          "prompt_text": ["Add 2 and 2.", "Name a country in Europe.", "Write about snow."]})
    report = targeted_report(predictions, train, attributes=["topic"], seed=0)
    categories = {c["category"]: c["count"] for c in report["categories"]}
    assert categories["wrong_answer"] == 13 and categories["repetition"] == 1
    assert [(s["attribute"], s["group"]) for s in report["slices"]] == [("topic", "arithmetic")]
    arithmetic = report["requests"][0]
    assert arithmetic["group"] == "arithmetic" and arithmetic["add_examples"] == max(MIN_REQUEST, EXAMPLES_PER_FAILURE * 12)
    assert any("add" in topic["topic"] for topic in report["topics"])
    first = next(line for line in report["data_requests"] if line["request"] == arithmetic["id"])
    assert first["nearest_training"][0]["row_id"] == 100  # "Add 2 and 2." is the closest training prompt


def test_labels_are_slices_for_classification():
    rows = [{"prompt_text": f"Review {i}: fine product", "prediction": "positive" if i < 10 else "nonsense words",
             "reference": "positive" if i < 10 else "negative", "label": "positive" if i < 10 else "negative"}
            for i in range(20)]
    frame = pl.DataFrame(rows).with_columns(pl.int_range(pl.len()).alias("row_id"), pl.lit(False).alias("hit_max_tokens"),
                                            pl.lit("tuned").alias("model"))
    report = targeted_report(categorise(frame, CategoryConfig()), pl.DataFrame({"row_id": [1], "prompt_text": ["x"]}),
                             attributes=[], seed=0)
    assert [(s["attribute"], s["group"]) for s in report["slices"]] == [("label", "negative")]
