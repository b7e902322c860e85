"""Accuracy, precision, recall and F1 (macro and micro) and the confusion matrix, with scikit-learn."""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


class HarnessClassification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="Classification metrics over string labels.", citation="",
                                   inputs_description="", features=datasets.Features(
                                       {"predictions": datasets.Value("string"), "references": datasets.Value("string")}))

    def _compute(self, predictions, references, labels=None):
        labels = sorted(set(references) | set(predictions)) if labels is None else list(labels)
        result = {"accuracy": accuracy_score(references, predictions), "labels": labels,
                  "confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist()}
        for average in ("macro", "micro"):
            precision, recall, f1, _ = precision_recall_fscore_support(
                references, predictions, labels=labels, average=average, zero_division=0)
            result |= {f"precision_{average}": precision, f"recall_{average}": recall, f"f1_{average}": f1}
        return result
