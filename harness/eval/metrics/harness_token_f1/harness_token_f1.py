"""SQuAD-style token F1 and exact match (the official ``squad`` normalisation), per example and mean, 0-100."""

import collections
import re
import string

import datasets
import evaluate

FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


def normalize_answer(text):
    """Lower case, drop punctuation, articles and extra white space (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1(prediction, reference):
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = collections.Counter(predicted) & collections.Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


class HarnessTokenF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="SQuAD token F1 and exact match.", citation="Rajpurkar et al., 2016",
                                   inputs_description="", features=FEATURES)

    def _compute(self, predictions, references):
        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        scores = [max(f1(p, r) for r in rs) for p, rs in zip(predictions, refs)]
        exact = [max(float(normalize_answer(p) == normalize_answer(r)) for r in rs) for p, rs in zip(predictions, refs)]
        return {"f1": 100.0 * sum(scores) / len(scores), "exact_match": 100.0 * sum(exact) / len(exact),
                "per_example_f1": scores}
