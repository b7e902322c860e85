"""Perplexity of texts under a causal LM: the computation of evaluate's official ``perplexity``
metric (a start token prepended, per-text exp of the mean token NLL, and their mean), with the
model loaded by ``from_pretrained`` from a local path or hub id, or passed in directly."""

import datasets
import evaluate
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


class HarnessPerplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="Perplexity of each text under a causal language model.", citation="",
                                   inputs_description="", features=datasets.Features(
                                       {"predictions": datasets.Value("string")}))

    def _compute(self, predictions, model_id=None, model=None, tokenizer=None, add_start_token=True, max_length=None):
        if model is None:
            model = AutoModelForCausalLM.from_pretrained(model_id)
            tokenizer = AutoTokenizer.from_pretrained(model_id)
        model.eval()
        device = next(model.parameters()).device
        perplexities = []
        with torch.no_grad():
            for text in predictions:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                if add_start_token and tokenizer.bos_token_id is not None:
                    ids = [tokenizer.bos_token_id] + ids
                if max_length:
                    ids = ids[:max_length]
                if len(ids) < 2:
                    perplexities.append(float("nan"))
                    continue
                batch = torch.tensor([ids], device=device)
                perplexities.append(float(torch.exp(model(input_ids=batch, labels=batch).loss)))
        return {"perplexities": perplexities, "mean_perplexity": float(np.nanmean(perplexities))}
