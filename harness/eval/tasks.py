"""Benchmarks kept as files: ``NAME.yaml`` (how to ask and score) beside ``NAME.jsonl`` (the items).

```yaml
type: multiple_choice        # or: generation
prompt: "Question: {question}\\nAnswer:"   # fields of each JSONL item
choices: choices             # multiple_choice: the item field holding the list of choices
answer: label                # the item field with the answer: an index into choices, or the text
metric: exact_match          # generation: exact_match | token_f1 | contains
parse: {first_line: true, strip: ".", lowercase: true}   # generation: how an answer is read
```

Every result keeps its per-item scores (``per_item``), so two iterations can be
compared item by item. Multiple choice is scored as lm-evaluation-harness does: the log-likelihood
of each choice (with a leading space) after the prompt; ``acc`` takes the
highest sum, ``acc_norm`` the highest per byte of the choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.config import ConfigError
from harness.eval.generate import generate, prompt_ids
from harness.eval.metrics.harness_token_f1.harness_token_f1 import f1, normalize_answer
from harness.eval.stats import mean_with_interval


class ParseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_line: bool = True
    strip: str = " ."
    lowercase: bool = True


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["multiple_choice", "generation"]
    prompt: str
    answer: str
    choices: str | None = None
    metric: Literal["exact_match", "token_f1", "contains"] = "exact_match"
    parse: ParseSettings = ParseSettings()
    max_new_tokens: int = 32


@dataclass
class Task:
    name: str
    spec: TaskSpec
    items: list[dict] = field(default_factory=list)


def load_tasks(folder: Path) -> list[Task]:
    """Every ``*.yaml`` with a ``*.jsonl`` beside it; errors name the file and the field."""
    if not folder.is_dir():
        raise ConfigError(f"eval.benchmarks: {folder} is not a folder")
    tasks = []
    for spec_path in sorted(folder.glob("*.yaml")):
        try:
            spec = TaskSpec.model_validate(yaml.safe_load(spec_path.read_text()))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(f"{spec_path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        if spec.type == "multiple_choice" and not spec.choices:
            raise ConfigError(f"{spec_path}: choices: a multiple_choice task names the field holding its choices")
        data = spec_path.with_suffix(".jsonl")
        if not data.is_file():
            raise ConfigError(f"{spec_path}: no {data.name} beside it")
        items = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
        tasks.append(Task(spec_path.stem, spec, items))
    return tasks


def parse_answer(text: str, settings: ParseSettings) -> str:
    if settings.first_line:
        text = text.strip().splitlines()[0] if text.strip() else ""
    text = text.strip().strip(settings.strip)
    return text.lower() if settings.lowercase else text


@torch.no_grad()
def choice_loglikelihoods(model, tokenizer, prompt: str, choices: list[str], *, add_bos: bool) -> np.ndarray:
    """Sum of log-probabilities of each choice's tokens after the prompt."""
    model.eval()
    context = prompt_ids(tokenizer, [prompt], add_bos=add_bos)[0]
    device = next(model.parameters()).device
    scores = []
    for choice in choices:
        continuation = tokenizer(" " + choice, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context + continuation], device=device)
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        targets = ids[0, len(context):]
        scores.append(float(logprobs[len(context) - 1:].gather(1, targets[:, None]).sum()))
    return np.array(scores)


def _answer_index(item: dict, spec: TaskSpec, choices: list[str]) -> int:
    answer = item[spec.answer]
    return int(answer) if isinstance(answer, int) or str(answer).isdigit() else choices.index(str(answer))


def run_task(task: Task, model, tokenizer, *, add_bos: bool, batch_size: int, resamples: int, seed: int) -> dict:
    spec = task.spec
    prompts = [spec.prompt.format(**item) for item in task.items]
    if spec.type == "multiple_choice":
        acc, acc_norm = [], []
        for item, prompt in zip(task.items, prompts, strict=True):
            choices = [str(c) for c in item[spec.choices]]
            scores = choice_loglikelihoods(model, tokenizer, prompt, choices, add_bos=add_bos)
            lengths = np.array([len((" " + c).encode()) for c in choices])
            gold = _answer_index(item, spec, choices)
            acc.append(float(np.argmax(scores) == gold))
            acc_norm.append(float(np.argmax(scores / lengths) == gold))
        return {"items": len(acc), "acc": mean_with_interval(np.array(acc), resamples=resamples, seed=seed),
                "acc_norm": mean_with_interval(np.array(acc_norm), resamples=resamples, seed=seed),
                "metric": "acc", "per_item": acc}
    generated = generate(model, tokenizer, prompt_ids(tokenizer, prompts, add_bos=add_bos), batch_size=batch_size,
                         max_new_tokens=spec.max_new_tokens)
    answers = [parse_answer(t, spec.parse) for t in generated.texts]
    golds = [str(item[spec.answer]) for item in task.items]
    if spec.metric == "token_f1":
        scores = [f1(a, g) for a, g in zip(answers, golds, strict=True)]
    elif spec.metric == "contains":
        scores = [float(normalize_answer(g) in normalize_answer(a)) for a, g in zip(answers, golds, strict=True)]
    else:
        scores = [float(a == parse_answer(g, spec.parse)) for a, g in zip(answers, golds, strict=True)]
    return {"items": len(scores), spec.metric: mean_with_interval(np.array(scores), resamples=resamples, seed=seed),
            "metric": spec.metric, "per_item": [float(x) for x in scores]}


def run_lm_eval(tasks: list[str], model_path: str, adapter: Path | None) -> dict:
    """Standard lm-evaluation-harness tasks, when the optional ``lm_eval`` package is installed."""
    try:
        import lm_eval
    except ImportError:
        raise ConfigError("eval.lm_eval_tasks needs lm-evaluation-harness: pip install 'harness[lm-eval]'") from None
    model_args = f"pretrained={model_path}" + (f",peft={adapter}" if adapter else "")
    results = lm_eval.simple_evaluate(model="hf", model_args=model_args, tasks=tasks)
    return results["results"]
