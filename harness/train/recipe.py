"""``harness train``: one explicit fine-tuning recipe over transformers + peft.

gate -> load model and tokenizer -> apply the method (LoRA, full, prompt
tuning, QLoRA) -> encode the train and validation splits -> Trainer (cosine
schedule, validation loss every ``eval_steps``, early stopping, best
checkpoint kept, resumable) -> save the adapter (safetensors, loadable with
plain ``peft.PeftModel.from_pretrained``) -> forgetting check -> manifest.
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import get_last_checkpoint

import harness
from harness.checks.gate import Verdict, data_dir_for, run_checks, write_verdict
from harness.config import ConfigError, HarnessConfig, TrainConfig
from harness.train.formatting import collator, encode_rows
from harness.io.readers import file_digest
from harness.io.writers import write_json
from harness.progress import Reporter

SCHEDULERS = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}


class GateBlocked(RuntimeError):
    """The data failed a critical check and --force was not given."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{len(verdict.failures('critical'))} critical check(s) failed")
        self.verdict = verdict


@dataclass
class TrainResult:
    output_dir: Path
    manifest: dict


def default_train_dir(config: HarnessConfig) -> Path:
    train = config.train
    return Path(train.output_dir) if train and train.output_dir else Path("reports") / config.project / "train"


def _precision(choice: str) -> dict[str, bool]:
    if choice == "auto":
        if not torch.cuda.is_available():
            return {"bf16": False, "fp16": False}
        return {"bf16": torch.cuda.is_bf16_supported(), "fp16": not torch.cuda.is_bf16_supported()}
    if choice in ("bf16", "fp16") and not torch.cuda.is_available():
        raise ConfigError(f"train.precision: {choice} needs a CUDA GPU; use auto or fp32 on CPU")
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def load_model_and_tokenizer(train: TrainConfig):
    """``from_pretrained`` on a hub id or a local path; remote code stays off unless the config turns it on."""
    kwargs = {"trust_remote_code": train.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(train.model, **kwargs)
        if train.method == "qlora":
            if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
                raise ConfigError("train.method qlora needs a CUDA GPU and bitsandbytes (pip install bitsandbytes)")
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(train.model, **kwargs)
    except OSError as exc:
        raise ConfigError(f"train.model: cannot load {train.model!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return prepare_for_training(model), tokenizer


def prepare_for_training(model):
    """No KV cache while training: with one, transformers skips the packed-sequence mask
    and packed examples would attend to each other (a test pins this)."""
    model.config.use_cache = False
    return model


def apply_method(model, train: TrainConfig):
    """Wrap the model for the chosen method; full fine-tuning trains it as it is."""
    from peft import LoraConfig, PromptTuningConfig, PromptTuningInit, get_peft_model, prepare_model_for_kbit_training

    if train.method == "full":
        return model
    if train.method == "prompt_tuning":
        settings = train.prompt_tuning
        peft_config = PromptTuningConfig(
            task_type="CAUSAL_LM", num_virtual_tokens=settings.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if settings.init_text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=settings.init_text, tokenizer_name_or_path=train.model if settings.init_text else None,
        )
        return get_peft_model(model, peft_config)
    if train.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=train.gradient_checkpointing)
    lora = train.lora
    peft_config = LoraConfig(task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                             target_modules=lora.target_modules)
    return get_peft_model(model, peft_config)


class JsonlLog(TrainerCallback):
    """Every log line (loss, learning rate, grad norm, eval loss) with tokens/s and memory, as JSONL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = (time.perf_counter(), 0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        now, tokens = time.perf_counter(), int(state.num_input_tokens_seen or 0)
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), **(logs or {})}
        if "loss" in record and tokens > self.last[1]:
            record["tokens_per_second"] = round((tokens - self.last[1]) / max(now - self.last[0], 1e-9), 1)
            self.last = (now, tokens)
        record["memory_mib"] = round(
            torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available()
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def perplexity(model, tokenizer, texts: list[str], max_len: int) -> float:
    """Token-weighted perplexity of the texts: the forgetting check runs it before and after."""
    model.eval()
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_len]
            if tokenizer.bos_token_id is not None:
                ids = [tokenizer.bos_token_id] + ids[: max_len - 1]
            if len(ids) < 2:
                continue
            batch = torch.tensor([ids], device=device)
            loss = model(input_ids=batch, labels=batch).loss
            total_nll += float(loss) * (len(ids) - 1)
            total_tokens += len(ids) - 1
    return math.exp(total_nll / total_tokens) if total_tokens else float("nan")


def read_reference_texts(path: Path) -> list[str]:
    if not path.is_file():
        raise ConfigError(f"train.reference_texts: {path} not found")
    if path.suffix == ".jsonl":
        return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    return [line for line in path.read_text().splitlines() if line.strip()]


def git_commit() -> str | None:
    """The checkout's commit, recorded in manifests; None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def training_arguments(train: TrainConfig, output_dir: Path, seed: int, has_validation: bool) -> TrainingArguments:
    for backend in train.report_to:
        if importlib.util.find_spec(backend) is None:
            raise ConfigError(f"train.report_to: {backend} is not installed (pip install {backend})")
    evaluate = "steps" if has_validation else "no"
    return TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        learning_rate=train.learning_rate,
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.gradient_accumulation,
        num_train_epochs=train.epochs,
        max_steps=train.max_steps or -1,
        warmup_steps=train.warmup,
        lr_scheduler_type=SCHEDULERS[train.scheduler],
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        seed=seed,
        data_seed=seed,
        eval_strategy=evaluate,
        eval_steps=train.eval_steps,
        save_strategy="steps",
        save_steps=train.eval_steps,
        save_total_limit=train.save_total_limit,
        load_best_model_at_end=has_validation,
        metric_for_best_model="eval_loss" if has_validation else None,
        greater_is_better=False,
        logging_steps=max(1, min(train.eval_steps, 10)),
        logging_first_step=True,
        report_to=list(train.report_to) or "none",
        activation_checkpointing=train.gradient_checkpointing,
        remove_unused_columns=False,
        include_num_input_tokens_seen=True,
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **_precision(train.precision),
    )


def finetune(
    config: HarnessConfig,
    base: Path,
    *,
    force: bool = False,
    resume: bool = False,
    output_dir: Path | None = None,
    reporter: Reporter | None = None,
    callbacks: list[TrainerCallback] | None = None,
    verdict: Verdict | None = None,
) -> TrainResult:
    """The whole recipe. Raises GateBlocked when the data fails its checks and force is off.

    ``verdict``: a gate verdict already computed on the same data (the loop's), so it is not run twice.
    """
    if config.train is None:
        raise ConfigError("the config has no train section: add train.model at least")
    train = config.train
    reporter = reporter or Reporter(None)
    output_dir = output_dir or default_train_dir(config)
    seed = train.seed if train.seed is not None else config.seed
    started = time.perf_counter()
    if verdict is None:
        with reporter.step("checking the data (gate)"):
            verdict = run_checks(config, base, force=force)
    write_verdict(verdict, output_dir)
    if not verdict.passed and not force:
        raise GateBlocked(verdict)
    checkpoints = output_dir / "checkpoints"
    resume_from = None
    if resume:
        resume_from = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if resume_from is None:
            raise ConfigError(f"--resume: no checkpoint in {checkpoints} to resume from")
    elif checkpoints.is_dir() and any(checkpoints.iterdir()):
        raise ConfigError(f"{checkpoints} holds checkpoints of an earlier run: --resume it, or remove the folder")
    data_dir = data_dir_for(config, base)
    splits = {s: pl.read_parquet(data_dir / f"{s}.parquet") for s in ("train", "validation")}
    with reporter.step("loading the model"):
        torch.manual_seed(seed)
        model, tokenizer = load_model_and_tokenizer(train)
    with reporter.step("tokenising"):
        encoded = {s: encode_rows(f, kind=config.data.kind, tokenizer=tokenizer, templates=train.templates,
                                  max_seq_len=train.max_seq_len, loss_on=train.loss_on) for s, f in splits.items()}
    if not encoded["train"].examples:
        raise ConfigError(f"{data_dir}: the train split has no usable example")
    references = read_reference_texts(base / train.reference_texts) if train.reference_texts else []
    forgetting: dict = {}
    if references:
        with reporter.step("forgetting check (before)"):
            forgetting["perplexity_before"] = perplexity(model, tokenizer, references, train.max_seq_len)
    model = apply_method(model, train)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_path = output_dir / "train_log.jsonl"
    if not resume:
        log_path.unlink(missing_ok=True)
    has_validation = bool(encoded["validation"].examples)
    trainer_callbacks: list[TrainerCallback] = [JsonlLog(log_path), *(callbacks or [])]
    if has_validation and train.early_stopping_patience:
        trainer_callbacks.append(EarlyStoppingCallback(early_stopping_patience=train.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=training_arguments(train, output_dir, seed, has_validation),
        train_dataset=encoded["train"].examples,
        eval_dataset=encoded["validation"].examples or None,
        data_collator=collator(tokenizer.pad_token_id, packing=train.packing),
        callbacks=trainer_callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # train_log.jsonl holds every log line
    with reporter.step("training"):
        outcome = trainer.train(resume_from_checkpoint=resume_from)
    final = trainer.evaluate() if has_validation else {}
    save_dir = output_dir / ("model" if train.method == "full" else "adapter")
    trainer.model.save_pretrained(save_dir, safe_serialization=True)
    tokenizer.save_pretrained(save_dir)
    if train.merge and train.method in ("lora", "qlora"):
        trainer.model.merge_and_unload().save_pretrained(output_dir / "merged", safe_serialization=True)
        tokenizer.save_pretrained(output_dir / "merged")
    if references:
        with reporter.step("forgetting check (after)"):
            forgetting["perplexity_after"] = perplexity(trainer.model, tokenizer, references, train.max_seq_len)
            forgetting["delta"] = forgetting["perplexity_after"] - forgetting["perplexity_before"]
    train_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    metrics = {
        "steps": trainer.state.global_step,
        "stopped_early": trainer.state.global_step < trainer.state.max_steps,
        "train_loss_first": train_losses[0] if train_losses else None,
        "train_loss_last": train_losses[-1] if train_losses else None,
        "train_loss_mean": outcome.training_loss,
        "best_eval_loss": trainer.state.best_metric,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "final_eval_loss": final.get("eval_loss"),
    }
    if train_losses and final.get("eval_loss") is not None:
        metrics["generalisation_gap"] = final["eval_loss"] - train_losses[-1]
    manifest = {
        "command": "train",
        "config": config.model_dump(mode="json"),
        "seed": seed,
        "method": train.method,
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "gate": {"passed": verdict.passed, "forced": verdict.forced, "critical_failures":
                 [o.description for o in verdict.failures("critical")]},
        "data": {s: file_digest(data_dir / f"{s}.parquet") for s in ("train", "validation")},
        "encoding": {s: e.stats for s, e in encoded.items()},
        "metrics": metrics,
        "forgetting": forgetting,
        "saved": str(save_dir),
        "resumed_from": resume_from,
        "versions": {name: version(name) for name in ("torch", "transformers", "peft", "polars")} | {
            "harness": harness.__version__, "python": platform.python_version()},
        "git_commit": git_commit(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(manifest, output_dir / "manifest.json")
    return TrainResult(output_dir=output_dir, manifest=manifest)
