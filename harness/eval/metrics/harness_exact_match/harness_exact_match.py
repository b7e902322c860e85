"""Exact match: the computation of evaluate's official ``exact_match`` metric, loadable offline."""

import re
import string

import datasets
import evaluate
import numpy as np


class HarnessExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="Share of predictions equal to their reference.", citation="",
                                   inputs_description="", features=datasets.Features(
                                       {"predictions": datasets.Value("string"), "references": datasets.Value("string")}))

    def _compute(self, predictions, references, regexes_to_ignore=None, ignore_case=False, ignore_punctuation=False,
                 ignore_numbers=False):
        original_predictions, original_references = np.asarray(predictions), np.asarray(references)
        predictions, references = original_predictions.copy(), original_references.copy()
        for pattern in regexes_to_ignore or []:
            predictions = np.array([re.sub(pattern, "", x) for x in predictions])
            references = np.array([re.sub(pattern, "", x) for x in references])
        if ignore_case:
            predictions, references = np.char.lower(predictions), np.char.lower(references)
        for enabled, characters in ((ignore_punctuation, string.punctuation), (ignore_numbers, string.digits)):
            if enabled:
                table = characters.maketrans("", "", characters)
                predictions = np.char.translate(predictions, table=table)
                references = np.char.translate(references, table=table)
        matches = (predictions == references) & ((predictions != "") | (original_predictions == original_references))
        return {"exact_match": float(np.mean(matches))}
