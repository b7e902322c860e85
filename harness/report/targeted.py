"""What to collect next: failures grouped by category, slice and topic, turned into data requests.

A failure is a fine-tuned model's test answer with at least one error
category. Failures are counted per category; groups of each attribute whose
token F1 or failure rate is clearly worse than the whole are weak slices; and
failing inputs are clustered by topic (TF-IDF of the inputs, k-means). Each group of failures becomes a request: how many examples to add
(``EXAMPLES_PER_FAILURE`` per failure, at least ``MIN_REQUEST``), with the
failing prompts and their nearest training examples (TF-IDF cosine), ready for
annotation in ``data_requests.jsonl``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from harness.eval.categories import CATEGORIES

EXAMPLES_PER_FAILURE = 25  # a test example stands for ~5 training examples (70/15 split), and a model needs several per pattern
MIN_REQUEST = 50
EXAMPLES_SHOWN = 3
SLICE_MARGIN = 0.1
NEIGHBOURS = 3


def failures(predictions: pl.DataFrame) -> pl.DataFrame:
    """The answers of the model that is being improved (tuned if present) with at least one category."""
    model = "tuned" if "tuned" in predictions["model"].unique().to_list() else "base"
    return predictions.filter((pl.col("model") == model) & (pl.col("categories").list.len() > 0))


def _examples(frame: pl.DataFrame) -> list[dict]:
    return frame.head(EXAMPLES_SHOWN).select("row_id", "prompt_text", "prediction", "reference", "categories").to_dicts()


def by_category(failing: pl.DataFrame, total: int) -> list[dict]:
    rows = []
    for category in CATEGORIES:
        hit = failing.filter(pl.col(f"is_{category}"))
        if hit.height:
            rows.append({"category": category, "count": hit.height, "rate": hit.height / max(total, 1),
                         "mean_token_f1": float(hit["token_f1"].mean()), "examples": _examples(hit)})
    return sorted(rows, key=lambda r: -r["count"])


def by_slice(predictions: pl.DataFrame, failing: pl.DataFrame, attributes: list[str]) -> list[dict]:
    """Groups clearly worse than the whole: mean token F1 at least ``SLICE_MARGIN`` below the overall
    mean, or a failure rate that much above the overall rate. Worst first."""
    model = failing["model"][0] if failing.height else "base"
    rows_of_model = predictions.filter(pl.col("model") == model).with_columns(
        (pl.col("categories").list.len() > 0).alias("_failed"))
    overall_f1, overall_rate = float(rows_of_model["token_f1"].mean()), float(rows_of_model["_failed"].mean())
    rows = []
    for attribute in attributes:
        groups = rows_of_model.group_by(attribute).agg(
            pl.len().alias("rows"), pl.col("token_f1").mean().alias("f1"), pl.col("_failed").sum().alias("failures"),
            pl.col("_failed").mean().alias("rate"))
        for group in groups.iter_rows(named=True):
            if group["f1"] <= overall_f1 - SLICE_MARGIN or group["rate"] >= overall_rate + SLICE_MARGIN:
                members = rows_of_model.filter(pl.col(attribute) == group[attribute])
                rows.append({"attribute": attribute, "group": str(group[attribute]), "rows": group["rows"],
                             "failures": group["failures"], "failure_rate": group["rate"], "overall_rate": overall_rate,
                             "mean_token_f1": group["f1"], "overall_token_f1": overall_f1,
                             "row_ids": members["row_id"].to_list(), "examples": _examples(members)})
    return sorted(rows, key=lambda r: (r["mean_token_f1"], -r["failure_rate"]))


def topic_clusters(failing: pl.DataFrame, *, seed: int, max_clusters: int = 5) -> list[dict]:
    """Failing inputs clustered by TF-IDF + k-means; each cluster is named by its top terms."""
    if failing.height < 2:
        return []
    texts = failing["prompt_text"].to_list()
    vectorizer = TfidfVectorizer(stop_words="english", max_features=2000)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return []
    k = max(1, min(max_clusters, failing.height // 3))
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(matrix) if k > 1 else np.zeros(len(texts), int)
    terms = np.array(vectorizer.get_feature_names_out())
    clusters = []
    for cluster in range(k):
        members = np.nonzero(labels == cluster)[0]
        centroid = np.asarray(matrix[members].mean(axis=0)).ravel()
        top = [str(terms[i]) for i in np.argsort(-centroid)[:4] if centroid[i] > 0]
        clusters.append({"cluster": cluster, "topic": " / ".join(top) or "(no terms)", "failures": len(members),
                         "row_ids": failing["row_id"].gather(members).to_list(),
                         "examples": _examples(failing[members.tolist()])})
    return sorted(clusters, key=lambda c: -c["failures"])


def nearest_training(prompts: list[str], train_prompts: list[str], train_ids: list[int]) -> list[list[dict]]:
    """For each prompt, the most similar training prompts (TF-IDF cosine)."""
    if not prompts or not train_prompts:
        return [[] for _ in prompts]
    vectorizer = TfidfVectorizer().fit(train_prompts + prompts)
    similarity = linear_kernel(vectorizer.transform(prompts), vectorizer.transform(train_prompts))
    result = []
    for row in similarity:
        best = np.argsort(-row)[:NEIGHBOURS]
        result.append([{"row_id": int(train_ids[i]), "prompt": train_prompts[i], "similarity": round(float(row[i]), 4)}
                       for i in best])
    return result


def data_requests(report: dict, failing: pl.DataFrame, train: pl.DataFrame) -> list[dict]:
    """One JSON line per failing prompt of each request, with its nearest training neighbours."""
    neighbours = nearest_training(failing["prompt_text"].to_list(), train["prompt_text"].to_list(),
                                  train["row_id"].to_list())
    by_row = dict(zip(failing["row_id"].to_list(), neighbours, strict=True))
    lookup = {r["row_id"]: r for r in failing.select("row_id", "prompt_text", "prediction", "reference", "categories")
              .to_dicts()}
    lines = []
    for request in report["requests"]:
        for row_id in request["row_ids"]:
            row = lookup[row_id]
            lines.append({"request": request["id"], "why": request["why"], "row_id": row_id, "prompt": row["prompt_text"],
                          "prediction": row["prediction"], "reference": row["reference"],
                          "categories": row["categories"], "nearest_training": by_row[row_id]})
    return lines


def targeted_report(predictions: pl.DataFrame, train: pl.DataFrame, *, attributes: list[str], seed: int) -> dict:
    """Categories, weak slices, topic clusters, and the data requests they lead to."""
    failing = failures(predictions)
    total = predictions.filter(pl.col("model") == (failing["model"][0] if failing.height else "base")).height
    dimensions = list(attributes) + (["label"] if "label" in predictions.columns and "label" not in attributes else [])
    report = {
        "failures": failing.height, "evaluated": total,
        "categories": by_category(failing, total),
        "slices": by_slice(predictions, failing, dimensions) if failing.height else [],
        "topics": topic_clusters(failing, seed=seed),
    }
    requests = []
    for s in report["slices"]:
        requests.append({"why": f"{s['attribute']} = {s['group']}: token F1 {s['mean_token_f1']:.2f} against "
                                f"{s['overall_token_f1']:.2f} overall, {s['failure_rate']:.0%} of answers fail",
                         "attribute": s["attribute"], "group": s["group"],
                         "row_ids": [r for r in s["row_ids"] if r in set(failing["row_id"].to_list())] or s["row_ids"]})
    for topic in report["topics"]:
        requests.append({"why": f"topic '{topic['topic']}': {topic['failures']} failing answers",
                         "topic": topic["topic"], "row_ids": topic["row_ids"]})
    for i, request in enumerate(requests):
        request["id"] = f"R{i + 1}"
        request["add_examples"] = max(MIN_REQUEST, EXAMPLES_PER_FAILURE * len(request["row_ids"]))
    report["requests"] = requests
    report["data_requests"] = data_requests(report, failing, train) if failing.height else []
    report["total_examples_requested"] = int(sum(r["add_examples"] for r in requests))
    report["examples_per_failure"] = EXAMPLES_PER_FAILURE
    return report
