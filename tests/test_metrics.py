"""The local evaluate metrics equal the official metrics' computations on the same libraries."""

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer, scoring
from sklearn.metrics import f1_score

from harness.eval.metrics import NAMES, load_metric

PREDICTIONS = ["the cat sat on the mat", "a quick brown fox jumps", "completely different words here", ""]
REFERENCES = ["the cat sat on a mat", "the quick brown fox jumped over", "nothing in common at all", "empty"]


def test_every_shipped_metric_loads_offline():
    assert {n.removeprefix("harness_") for n in NAMES} == {"sacrebleu", "chrf", "rouge", "exact_match", "token_f1",
                                                            "classification", "perplexity"}
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("bleurt")


def test_sacrebleu_and_chrf_equal_sacrebleu():
    bleu = load_metric("sacrebleu").compute(predictions=PREDICTIONS, references=REFERENCES)
    expected = sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES])
    assert bleu["score"] == expected.score and bleu["counts"] == expected.counts and bleu["bp"] == expected.bp
    multi = load_metric("sacrebleu").compute(predictions=PREDICTIONS[:2],
                                             references=[[REFERENCES[0], "a cat on a mat"], [REFERENCES[1], "a fox"]])
    assert multi["score"] == sacrebleu.corpus_bleu(PREDICTIONS[:2], [REFERENCES[:2], ["a cat on a mat", "a fox"]]).score
    chrf = load_metric("chrf").compute(predictions=PREDICTIONS, references=REFERENCES, word_order=2)
    assert chrf["score"] == sacrebleu.CHRF(word_order=2).corpus_score(PREDICTIONS, [REFERENCES]).score
    assert chrf["word_order"] == 2


def test_rouge_equals_rouge_score_bootstrap_mid():
    np.random.seed(0)
    ours = load_metric("rouge").compute(predictions=PREDICTIONS, references=REFERENCES)
    np.random.seed(0)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])
    aggregator = scoring.BootstrapAggregator()
    for ref, pred in zip(REFERENCES, PREDICTIONS):
        aggregator.add_scores(scorer.score(ref, pred))
    assert ours == {k: v.mid.fmeasure for k, v in aggregator.aggregate().items()}
    per_example = load_metric("rouge").compute(predictions=PREDICTIONS, references=REFERENCES, use_aggregator=False)
    assert per_example["rouge1"] == [scorer.score(r, p)["rouge1"].fmeasure for r, p in zip(REFERENCES, PREDICTIONS)]


def test_exact_match_reproduces_the_official_examples():
    metric = load_metric("exact_match")
    refs, preds = ["the cat", "theater", "YELLING", "agent007"], ["cat?", "theater", "yelling", "agent"]
    kwargs = {"regexes_to_ignore": ["the ", "yell", "YELL"], "ignore_case": True, "ignore_punctuation": True}
    assert metric.compute(references=refs, predictions=preds, **kwargs)["exact_match"] == 0.75
    assert metric.compute(references=refs, predictions=preds, ignore_numbers=True, **kwargs)["exact_match"] == 1.0
    refs = ["The cat sat on the mat.", "Theaters are great.", "It's like comparing oranges and apples."]
    preds = ["The cat sat on the mat?", "Theaters are great.", "It's like comparing apples and oranges."]
    assert round(metric.compute(references=refs, predictions=preds)["exact_match"], 2) == 0.33


def test_token_f1_is_squad_f1():
    result = load_metric("token_f1").compute(predictions=["Denver Broncos", "the Broncos", "Panthers"],
                                             references=[["Denver Broncos"], ["Denver Broncos"], ["Denver Broncos"]])
    assert result["per_example_f1"] == [1.0, pytest.approx(2 / 3), 0.0]
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3) and result["exact_match"] == pytest.approx(100 / 3)


def test_classification_equals_scikit_learn():
    refs, preds = ["pos", "neg", "neg", "pos", "neu"], ["pos", "pos", "neg", "neg", "neu"]
    result = load_metric("classification").compute(predictions=preds, references=refs)
    assert result["accuracy"] == 0.6
    assert result["f1_macro"] == f1_score(refs, preds, average="macro")
    assert result["confusion_matrix"] == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]  # rows: true neg, neu, pos


def test_perplexity_is_exp_of_mean_token_nll(tmp_path):
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.examples import build_tiny_model

    path = build_tiny_model(tmp_path / "m", ["the cat sat on the mat", "a dog ran"])
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    texts = ["the cat sat on the mat", "a dog ran"]
    result = load_metric("perplexity").compute(predictions=texts, model_id=str(path))
    expected = []
    for text in texts:
        ids = torch.tensor([[tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1], dim=-1)
        nll = -logprobs.gather(1, ids[0, 1:, None]).mean()
        expected.append(math.exp(float(nll)))
    assert result["perplexities"] == pytest.approx(expected, rel=1e-5)
    assert result["mean_perplexity"] == pytest.approx(sum(expected) / 2, rel=1e-5)
