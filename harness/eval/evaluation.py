"""``harness eval``: the base model and the fine-tuned one, side by side, on the test split.

generate (batched) -> per-example scores and error categories -> corpus
metrics through the local evaluate modules, each with a bootstrap interval ->
the same per group of every sensitive attribute -> ``eval.json`` and
``predictions.parquet`` (kept for every run, so later iterations can compare
sample by sample and recompute metrics without generating again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import sacrebleu

from harness.checks.gate import data_dir_for
from harness.config import ConfigError, HarnessConfig
from harness.data.schema import text_views
from harness.eval.categories import CATEGORIES, categorise
from harness.eval.generate import generate, prompt_ids
from harness.eval.metrics import load_metric
from harness.eval.stats import bootstrap_interval, by_group, mean_with_interval
from harness.eval.tasks import load_tasks, run_lm_eval, run_task
from harness.io.writers import write_frame, write_json
from harness.progress import Reporter
from harness.train.formatting import prompt_and_response

PER_EXAMPLE = ("token_f1", "exact_match", "rougeL")
CORPUS = {"sacrebleu": lambda p, r: sacrebleu.corpus_bleu(p, [r]).score,
          "chrf": lambda p, r: sacrebleu.corpus_chrf(p, [r]).score}


@dataclass
class EvalResult:
    output_dir: Path
    report: dict
    predictions: pl.DataFrame


def default_eval_dir(config: HarnessConfig) -> Path:
    return Path(config.eval.output_dir) if config.eval.output_dir else Path("reports") / config.project / "eval"


def find_adapter(config: HarnessConfig, base: Path) -> Path | None:
    """eval.adapter, else the train run's adapter (or full model); None when nothing was trained yet."""
    from harness.train.recipe import default_train_dir

    if config.eval.adapter:
        adapter = Path(config.eval.adapter)
        adapter = adapter if adapter.is_absolute() else base / adapter
        if not adapter.is_dir():
            raise ConfigError(f"eval.adapter: {adapter} not found")
        return adapter
    run = default_train_dir(config)
    return next((run / name for name in ("adapter", "model") if (run / name).is_dir()), None)


def load_models(config: HarnessConfig, adapter: Path | None) -> dict[str, tuple]:
    """{"base": (model, tokenizer), "tuned": (...)}; tuned is missing when there is no adapter."""
    from harness.train.recipe import load_model_and_tokenizer

    models = {"base": load_model_and_tokenizer(config.train)}
    if adapter is not None:
        model, tokenizer = load_model_and_tokenizer(config.train)
        if (adapter / "adapter_config.json").is_file():
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        else:
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(adapter, trust_remote_code=config.train.trust_remote_code)
        models["tuned"] = (model, tokenizer)
    return models


def _examples(config: HarnessConfig, base: Path, tokenizer) -> pl.DataFrame:
    path = data_dir_for(config, base) / f"{config.eval.split}.parquet"
    if not path.is_file():
        raise ConfigError(f"{path}: no {config.eval.split} split; run `harness prepare CONFIG` first")
    frame = pl.read_parquet(path)
    if config.eval.max_examples:
        frame = frame.head(config.eval.max_examples)
    templates = config.train.templates
    prompts = [prompt_and_response(row, config.data.kind, templates, tokenizer)[0] for row in frame.iter_rows(named=True)]
    prompt_view, response_view = text_views(config.data.kind)
    return frame.with_columns(prompt_view, response_view.alias("reference"), pl.Series("model_prompt", prompts))


def _parse_label(text: str, labels: list[str]) -> str | None:
    first = text.strip().splitlines()[0].strip().lower() if text.strip() else ""
    for label in sorted(labels, key=len, reverse=True):
        if first == label.lower() or first.startswith(label.lower()):
            return label
    return None


def score_predictions(frame: pl.DataFrame, config: HarnessConfig, labels: list[str] | None) -> pl.DataFrame:
    """Per-example scores and categories for one model's predictions."""
    scored = categorise(frame, config.eval.categories, labels=set(labels or []))
    rouge = load_metric("rouge").compute(predictions=scored["prediction"].to_list(),
                                         references=scored["reference"].to_list(), use_aggregator=False)
    exact = [float(p.strip() == r.strip()) for p, r in zip(scored["prediction"], scored["reference"], strict=True)]
    return scored.with_columns(pl.Series("rougeL", rouge["rougeL"], dtype=pl.Float64),
                               pl.Series("exact_match", exact, dtype=pl.Float64))


def summarise(scored: pl.DataFrame, config: HarnessConfig, labels: list[str] | None, seed: int) -> dict:
    """Corpus metrics, per-example means and category rates, each with a bootstrap interval."""
    resamples = config.eval.bootstrap_resamples
    predictions, references = scored["prediction"].to_list(), scored["reference"].to_list()
    metrics: dict[str, dict] = {}
    for name in config.eval.metrics:
        if name in CORPUS:
            value = load_metric(name).compute(predictions=predictions, references=references)["score"]
            low, high = bootstrap_interval(
                len(predictions), lambda idx, n=name: CORPUS[n]([predictions[i] for i in idx], [references[i] for i in idx]),
                resamples=min(resamples, 200), seed=seed)
            metrics[name] = {"value": float(value), "ci_low": low, "ci_high": high}
        elif name == "rouge":
            rouge = load_metric("rouge")
            official = rouge.compute(predictions=predictions, references=references)
            per_example = rouge.compute(predictions=predictions, references=references, use_aggregator=False)
            for key, value in official.items():
                interval = mean_with_interval(np.array(per_example[key]), resamples=resamples, seed=seed)
                metrics[key] = interval | {"value": float(value)}
        else:
            metrics[name] = mean_with_interval(scored[name].to_numpy(), resamples=resamples, seed=seed)
    if labels is not None:
        parsed = [_parse_label(p, labels) for p in predictions]
        valid = [(p, r) for p, r in zip(parsed, references, strict=True) if p is not None]
        result = load_metric("classification").compute(
            predictions=[p for p, _ in valid] or [labels[0]], references=[r for _, r in valid] or [labels[0]],
            labels=labels)
        metrics["classification"] = result | {"unparseable": len(parsed) - len(valid)}
    categories = {
        name: {"count": int(scored[f"is_{name}"].sum())}
        | mean_with_interval(scored[f"is_{name}"].cast(pl.Float64).to_numpy(), resamples=resamples, seed=seed)
        for name in CATEGORIES
    }
    return {"examples": scored.height, "metrics": metrics, "categories": categories}


def evaluate_models(
    config: HarnessConfig, base: Path, *, output_dir: Path | None = None, reporter: Reporter | None = None,
) -> EvalResult:
    reporter = reporter or Reporter(None)
    output_dir = output_dir or default_eval_dir(config)
    started = time.perf_counter()
    if config.train is None:
        raise ConfigError("eval needs train.model (the base model) in the config")
    adapter = find_adapter(config, base)
    tasks = [t for folder in config.eval.benchmarks for t in load_tasks(base / folder)]
    with reporter.step("loading models"):
        models = load_models(config, adapter)
    tokenizer = models["base"][1]
    examples = _examples(config, base, tokenizer)
    labels = sorted(examples["label"].unique().to_list()) if config.data.kind == "classification" else None
    attributes = [a for a in (config.eval.group_attributes if config.eval.group_attributes is not None
                              else config.bias.attributes) if a in examples.columns]
    ids = prompt_ids(tokenizer, examples["model_prompt"].to_list(), add_bos=config.data.kind != "chat")
    report: dict = {"split": config.eval.split, "adapter": str(adapter) if adapter else None, "models": {},
                    "groups": {}, "benchmarks": {}}
    frames = []
    for name, (model, model_tokenizer) in models.items():
        with reporter.step(f"generating ({name})", total=len(ids)) as advance:
            generated = generate(model, model_tokenizer, ids, batch_size=config.eval.batch_size,
                                 max_new_tokens=config.eval.max_new_tokens, temperature=config.eval.temperature,
                                 top_p=config.eval.top_p, stop=config.eval.stop, progress=advance)
        frame = examples.with_columns(pl.Series("prediction", generated.texts, dtype=pl.String),
                                      pl.Series("hit_max_tokens", generated.hit_max_tokens, dtype=pl.Boolean))
        with reporter.step(f"scoring ({name})"):
            scored = score_predictions(frame, config, labels)
            report["models"][name] = summarise(scored, config, labels, config.seed)
            texts = [f"{p}{r}" for p, r in zip(frame["model_prompt"], frame["reference"], strict=True)]
            perplexity = load_metric("perplexity").compute(predictions=texts, model=model, tokenizer=model_tokenizer,
                                                           max_length=config.train.max_seq_len)
            report["models"][name]["reference_perplexity"] = perplexity["mean_perplexity"]
            report["groups"][name] = {
                attribute: by_group({m: scored[m].to_numpy() for m in PER_EXAMPLE}
                                    | {f"rate_{c}": scored[f"is_{c}"].cast(pl.Float64).to_numpy() for c in CATEGORIES},
                                    scored[attribute].cast(pl.String).fill_null("(missing)").to_numpy())
                for attribute in attributes
            }
        frames.append(scored.with_columns(pl.lit(name).alias("model")))
        for task in tasks:
            with reporter.step(f"benchmark {task.name} ({name})"):
                report["benchmarks"].setdefault(task.name, {})[name] = run_task(
                    task, model, model_tokenizer, add_bos=config.data.kind != "chat",
                    batch_size=config.eval.batch_size, resamples=config.eval.bootstrap_resamples, seed=config.seed)
    if config.eval.lm_eval_tasks:
        with reporter.step("lm-evaluation-harness"):
            report["lm_eval"] = {"base": run_lm_eval(config.eval.lm_eval_tasks, config.train.model, None)}
            if adapter is not None:
                report["lm_eval"]["tuned"] = run_lm_eval(config.eval.lm_eval_tasks, config.train.model, adapter)
    if "tuned" in report["models"]:
        base_metrics, tuned_metrics = report["models"]["base"]["metrics"], report["models"]["tuned"]["metrics"]
        report["delta"] = {k: tuned_metrics[k]["value"] - base_metrics[k]["value"]
                           for k in tuned_metrics if "value" in tuned_metrics[k]}
    report["group_violations"] = [
        {"model": m, "attribute": a, "score": s, "difference": v["difference"], "worst_group": v["worst_group"]}
        for m, per_attribute in report["groups"].items() for a, per_score in per_attribute.items()
        for s, v in per_score.items() if s in PER_EXAMPLE and v["difference"] > config.eval.max_group_difference
    ]
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["settings"] = config.eval.model_dump(mode="json")
    predictions = pl.concat(frames, how="diagonal_relaxed").drop("model_prompt")
    write_frame(predictions, output_dir / "predictions", jsonl=False)
    write_json(report, output_dir / "eval.json")
    return EvalResult(output_dir=output_dir, report=report, predictions=predictions)
