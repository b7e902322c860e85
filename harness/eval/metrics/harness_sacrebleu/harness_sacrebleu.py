"""BLEU with sacrebleu: the computation of evaluate's official ``sacrebleu`` metric, loadable offline."""

import datasets
import evaluate
import sacrebleu

FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}),
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
]


def per_position(references):
    """[[refs of example 1], ...] -> [[first ref of each example], [second ...]] as sacrebleu wants."""
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if len({len(r) for r in refs}) > 1:
        raise ValueError("every prediction needs the same number of references")
    return [list(column) for column in zip(*refs, strict=True)]


class HarnessSacrebleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="Corpus BLEU (sacrebleu).", citation="Post, 2018", inputs_description="",
                                   features=FEATURES)

    def _compute(self, predictions, references, smooth_method="exp", smooth_value=None, lowercase=False,
                 use_effective_order=False):
        output = sacrebleu.corpus_bleu(predictions, per_position(references), smooth_method=smooth_method,
                                       smooth_value=smooth_value, lowercase=lowercase,
                                       use_effective_order=use_effective_order)
        return {"score": output.score, "counts": output.counts, "totals": output.totals,
                "precisions": output.precisions, "bp": output.bp, "sys_len": output.sys_len, "ref_len": output.ref_len}
