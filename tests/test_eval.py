"""Generation, the eval pipeline, and per-group values on a tiny model (CPU, no download)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.config import load_config
from harness.eval.evaluation import _parse_label, evaluate_models
from harness.eval.generate import generate, prompt_ids
from harness.eval.stats import bootstrap_interval, by_group, mean_with_interval
from harness.train.recipe import finetune
from test_train import configure, project  # noqa: F401  (the shared tiny project fixture)


def test_batched_generation_equals_one_at_a_time(project):  # noqa: F811
    model = AutoModelForCausalLM.from_pretrained(project / "model")
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    prompts = prompt_ids(tokenizer, ["The capital of France is", "Red", "Name a primary colour . Red is a primary"],
                         add_bos=True)
    batched = generate(model, tokenizer, prompts, batch_size=3, max_new_tokens=6)
    single = [generate(model, tokenizer, [p], batch_size=1, max_new_tokens=6) for p in prompts]
    assert batched.texts == [s.texts[0] for s in single]
    assert batched.hit_max_tokens == [s.hit_max_tokens[0] for s in single]


def test_stop_strings_cut_the_answer(project):  # noqa: F811
    model = AutoModelForCausalLM.from_pretrained(project / "model")
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    prompts = prompt_ids(tokenizer, ["Red"], add_bos=True)
    full = generate(model, tokenizer, prompts, max_new_tokens=8).texts[0]
    stop = full.split()[2]
    cut = generate(model, tokenizer, prompts, max_new_tokens=8, stop=[stop])
    assert cut.texts[0] == full[: full.find(stop)].strip() and cut.hit_max_tokens == [False]


def test_eval_compares_base_and_tuned(project):  # noqa: F811
    path = configure(project, "for_eval", max_steps=20)
    config, base = load_config(path)
    finetune(config, base)
    config = config.model_copy(update={"eval": config.eval.model_copy(update={
        "max_new_tokens": 8, "bootstrap_resamples": 50, "output_dir": str(project / "eval")})})
    result = evaluate_models(config, base)
    report = json.loads((project / "eval" / "eval.json").read_text())
    assert set(report["models"]) == {"base", "tuned"} and set(report["delta"]) >= {"sacrebleu", "token_f1", "rougeL"}
    for metrics in (m["metrics"] for m in report["models"].values()):
        for name in ("token_f1", "exact_match", "rougeL", "sacrebleu", "chrf"):
            assert metrics[name]["ci_low"] <= metrics[name]["value"] + 1e-9 and metrics[name]["ci_high"] >= metrics[name]["ci_low"]
    assert all(m["reference_perplexity"] > 1 for m in report["models"].values())
    examples = report["models"]["base"]["examples"]
    assert examples == pl.read_parquet(project / "data" / "test.parquet").height
    predictions = pl.read_parquet(project / "eval" / "predictions.parquet")
    assert predictions.height == 2 * examples and set(predictions["model"]) == {"base", "tuned"}
    assert {"row_id", "prediction", "reference", "categories", "token_f1", "rougeL", "is_truncated"} <= set(predictions.columns)
    region = report["groups"]["tuned"]["region"]["token_f1"]
    assert set(region["by_group"]) == set(predictions["region"].unique()) and region["difference"] >= 0
    assert result.report["models"]["base"]["categories"]["truncated"]["count"] == int(
        predictions.filter(pl.col("model") == "base")["is_truncated"].sum())


def test_per_group_values_and_intervals():
    scores = np.array([1.0, 1.0, 0.0, 0.0, 0.5, 0.5])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    result = by_group({"score": scores}, groups)["score"]
    assert result["by_group"] == {"a": 1.0, "b": 0.0, "c": 0.5}
    assert result["difference"] == 1.0 and result["ratio"] == 0.0 and result["worst_group"] == "b"
    assert result["counts"] == {"a": 2, "b": 2, "c": 2}
    interval = mean_with_interval(np.array([0.0, 1.0] * 50), resamples=500, seed=1)
    assert interval["value"] == 0.5 and 0.35 < interval["ci_low"] < 0.5 < interval["ci_high"] < 0.65
    assert bootstrap_interval(10, lambda idx: 3.0, resamples=20) == (3.0, 3.0)


def test_labels_parsed_from_generated_text():
    labels = ["negative", "neutral", "positive"]
    assert _parse_label("Positive\nbecause it is nice", labels) == "positive"
    assert _parse_label("neutral.", labels) == "neutral"
    assert _parse_label("I cannot tell", labels) is None and _parse_label("", labels) is None


def _write_task(folder, name, spec: dict, items: list[dict]):
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    (folder / f"{name}.jsonl").write_text("\n".join(json.dumps(i) for i in items) + "\n")


def test_multiple_choice_by_loglikelihood_picks_the_likeliest_choice(project, tmp_path):  # noqa: F811
    from harness.eval.tasks import choice_loglikelihoods, load_tasks, run_task

    model = AutoModelForCausalLM.from_pretrained(project / "model")
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    choices = ["Paris", "Lima", "Tokyo"]
    scores = choice_loglikelihoods(model, tokenizer, "The capital of France is", choices, add_bos=True)
    best = choices[int(np.argmax(scores))]
    _write_task(tmp_path / "bench", "capitals", {"type": "multiple_choice", "prompt": "The capital of {country} is",
                                                 "choices": "choices", "answer": "answer"},
                [{"country": "France", "choices": choices, "answer": best},
                 {"country": "France", "choices": choices, "answer": next(c for c in choices if c != best)}])
    [task] = load_tasks(tmp_path / "bench")
    result = run_task(task, model, tokenizer, add_bos=True, batch_size=2, resamples=20, seed=0)
    assert result["items"] == 2 and result["acc"]["value"] == 0.5


def test_generation_task_and_bad_task_files(project, tmp_path):  # noqa: F811
    from harness.config import ConfigError
    from harness.eval.tasks import load_tasks, parse_answer, run_task, ParseSettings

    assert parse_answer(" Paris.\nmore text", ParseSettings()) == "paris"
    model = AutoModelForCausalLM.from_pretrained(project / "model")
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    _write_task(tmp_path / "gen", "echo", {"type": "generation", "prompt": "{q}", "answer": "a", "metric": "token_f1",
                                           "max_new_tokens": 4}, [{"q": "Red", "a": "red"}, {"q": "Blue", "a": "blue"}])
    [task] = load_tasks(tmp_path / "gen")
    result = run_task(task, model, tokenizer, add_bos=True, batch_size=2, resamples=20, seed=0)
    assert result["items"] == 2 and 0.0 <= result["token_f1"]["value"] <= 1.0
    _write_task(tmp_path / "bad", "broken", {"type": "quiz", "prompt": "{q}", "answer": "a"}, [{"q": "x", "a": "y"}])
    with pytest.raises(ConfigError, match=r"broken.yaml: type"):
        load_tasks(tmp_path / "bad")
    _write_task(tmp_path / "bad2", "mc", {"type": "multiple_choice", "prompt": "{q}", "answer": "a"}, [{"q": "x", "a": 0}])
    with pytest.raises(ConfigError, match="names the field holding its choices"):
        load_tasks(tmp_path / "bad2")


def test_lm_eval_missing_is_a_clear_error():
    import importlib.util

    from harness.config import ConfigError
    from harness.eval.tasks import run_lm_eval

    if importlib.util.find_spec("lm_eval") is not None:
        pytest.skip("lm_eval is installed here")
    with pytest.raises(ConfigError, match=r"pip install 'harness\[lm-eval\]'"):
        run_lm_eval(["hellaswag"], "model", None)
