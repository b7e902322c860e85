"""chrF with sacrebleu: the computation of evaluate's official ``chrf`` metric, loadable offline."""

import datasets
import evaluate
from sacrebleu import CHRF

FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


class HarnessChrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="chrF / chrF++ (sacrebleu).", citation="Popovic, 2015",
                                   inputs_description="", features=FEATURES)

    def _compute(self, predictions, references, char_order=CHRF.CHAR_ORDER, word_order=CHRF.WORD_ORDER,
                 beta=CHRF.BETA, lowercase=False, whitespace=False, eps_smoothing=False):
        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        if len({len(r) for r in refs}) > 1:
            raise ValueError("every prediction needs the same number of references")
        chrf = CHRF(char_order, word_order, beta, lowercase, whitespace, eps_smoothing)
        output = chrf.corpus_score(predictions, [list(column) for column in zip(*refs, strict=True)])
        return {"score": output.score, "char_order": output.char_order, "word_order": output.word_order,
                "beta": output.beta}
