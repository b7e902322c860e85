"""ROUGE with rouge_score: the computation of evaluate's official ``rouge`` metric, loadable offline.

As the official metric does, the aggregate is the mid (median) f-measure of
rouge_score's BootstrapAggregator; ``use_aggregator=False`` gives per-example scores.
"""

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring

FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


class HarnessRouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="ROUGE-1/2/L/Lsum (rouge_score).", citation="Lin, 2004",
                                   inputs_description="", features=FEATURES)

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False):
        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer)
        scores = [scorer.score_multi(ref, pred) if isinstance(ref, list) else scorer.score(ref, pred)
                  for ref, pred in zip(references, predictions)]
        if not use_aggregator:
            return {key: [s[key].fmeasure for s in scores] for key in rouge_types}
        aggregator = scoring.BootstrapAggregator()
        for score in scores:
            aggregator.add_scores(score)
        return {key: value.mid.fmeasure for key, value in aggregator.aggregate().items()}
