"""Fine-tuning on a tiny Llama built here (CPU, no download)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from typer.testing import CliRunner

from harness.cli import app
from harness.config import ConfigError, TemplateSettings, load_config
from harness.data.prepare import prepare
from harness.examples import write_example
from harness.train.formatting import IGNORE, encode_rows, prompt_and_response
from harness.train.recipe import GateBlocked, finetune
from harness.examples import build_tiny_model

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The example data, prepared, and a tiny model whose vocabulary covers it."""
    root = tmp_path_factory.mktemp("train")
    config_path = write_example(root / "ex")
    config, base = load_config(config_path)
    prepare(config, base, output_dir=root / "data")
    texts = ["### Instruction Input Response Label : assistant user system"]
    for split in ("train", "validation", "test"):
        frame = pl.read_parquet(root / "data" / f"{split}.parquet")
        texts += frame["instruction"].to_list() + frame["input"].to_list() + frame["output"].to_list()
    build_tiny_model(root / "model", texts)
    return root


def configure(project: Path, run: str, **train) -> Path:
    raw = yaml.safe_load((project / "ex" / "harness.yaml").read_text())
    raw["checks"] = {"data_dir": str(project / "data")} | train.pop("checks", {})
    raw["eval"]["benchmarks"] = [str(project / "ex" / "benchmarks")]  # this config lives outside ex/
    raw["train"] = {"model": str(project / "model"), "max_steps": 30, "eval_steps": 10, "batch_size": 8,
                    "learning_rate": 1e-2, "output_dir": str(project / run), "early_stopping_patience": None} | train
    path = project / f"{run}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(project: Path, name: str, callbacks: list | None = None, **train):
    config, base = load_config(configure(project, name, **train))
    return finetune(config, base, callbacks=callbacks)


def test_loss_falls_and_outputs_are_written(project):
    result = run(project, "lora", max_steps=60, eval_steps=20)
    metrics = result.manifest["metrics"]
    assert metrics["train_loss_last"] < metrics["train_loss_first"] - 0.5
    assert metrics["best_eval_loss"] < metrics["train_loss_first"]
    adapter = result.output_dir / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    assert result.manifest["gate"] == {"passed": True, "forced": False, "critical_failures": []}
    assert set(result.manifest["data"]) == {"train", "validation"} and result.manifest["versions"]["peft"]
    log = [json.loads(line) for line in (result.output_dir / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert steps and all({"learning_rate", "grad_norm", "tokens_per_second", "memory_mib"} <= set(r) for r in steps[1:])
    assert any("eval_loss" in r for r in log)


def test_only_response_tokens_carry_loss(project):
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    row = {"instruction": "Name a primary colour .", "input": "", "output": "Red is a primary colour ."}
    frame = pl.DataFrame([row])
    encoded = encode_rows(frame, kind="instruction", tokenizer=tokenizer, templates=TemplateSettings(), max_seq_len=512)
    example = encoded.examples[0]
    prompt, response = prompt_and_response(row, "instruction", TemplateSettings(), tokenizer)
    prompt_len = 1 + len(tokenizer(prompt, add_special_tokens=False)["input_ids"])  # + BOS
    assert example["labels"][:prompt_len] == [IGNORE] * prompt_len
    assert example["labels"][prompt_len:] == example["input_ids"][prompt_len:]
    assert example["input_ids"][-1] == tokenizer.eos_token_id
    full = encode_rows(frame, kind="instruction", tokenizer=tokenizer, templates=TemplateSettings(), max_seq_len=512,
                       loss_on="all")
    assert IGNORE not in full.examples[0]["labels"]


def test_truncation_is_counted_and_empty_responses_dropped(project):
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    frame = pl.DataFrame([
        {"instruction": "Name a primary colour .", "input": "", "output": "Red is a primary colour ."},
        {"instruction": "Name a colour .", "input": "", "output": "Red is one of the three primary colours of paint ."},
        {"instruction": " ".join(["colour"] * 40), "input": "", "output": "Red ."},
    ])
    encoded = encode_rows(frame, kind="instruction", tokenizer=tokenizer, templates=TemplateSettings(), max_seq_len=24)
    lengths = [len(e["input_ids"]) for e in encoded.examples]
    assert (encoded.truncated, encoded.dropped_no_response, lengths) == (2, 1, [23, 24])
    assert encoded.examples[1]["input_ids"][-1] != tokenizer.eos_token_id  # cut before the end


def test_chat_uses_the_tokenizer_chat_template(project):
    tokenizer = AutoTokenizer.from_pretrained(project / "model")
    row = {"messages": [{"role": "user", "content": "Name a colour ."}, {"role": "assistant", "content": "Red ."}]}
    prompt, response = prompt_and_response(row, "chat", TemplateSettings(), tokenizer)
    assert prompt.endswith("<s> assistant : ") and response.strip() == "Red . </s>"


def test_early_stopping_stops(project):
    result = run(project, "early", max_steps=200, eval_steps=2, learning_rate=1e-12, early_stopping_patience=2)
    metrics = result.manifest["metrics"]
    assert metrics["stopped_early"] and metrics["steps"] < 20


class _Crash(TrainerCallback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt("simulated crash")


def test_resume_after_interruption_matches_uninterrupted_run(project):
    settings = {"max_steps": 20, "eval_steps": 5, "save_total_limit": 5}
    straight = run(project, "straight", **settings).manifest["metrics"]
    with pytest.raises(KeyboardInterrupt):
        run(project, "crashed", callbacks=[_Crash(12)], **settings)
    with pytest.raises(ConfigError, match="--resume it"):
        run(project, "crashed", **settings)
    config, base = load_config(project / "crashed.yaml")
    resumed = finetune(config, base, resume=True).manifest
    assert resumed["resumed_from"].endswith("checkpoint-10")
    assert resumed["metrics"]["steps"] == straight["steps"] == 20
    torch.testing.assert_close(resumed["metrics"]["final_eval_loss"], straight["final_eval_loss"], rtol=1e-4, atol=1e-4)


def test_adapter_reloads_with_plain_peft_and_gives_the_same_logits(project):
    from peft import PeftModel

    result = run(project, "merge", max_steps=20, merge=True)
    base_model = AutoModelForCausalLM.from_pretrained(project / "model")
    reloaded = PeftModel.from_pretrained(base_model, result.output_dir / "adapter").eval()
    merged = AutoModelForCausalLM.from_pretrained(result.output_dir / "merged").eval()
    untouched = AutoModelForCausalLM.from_pretrained(project / "model").eval()
    ids = torch.tensor([[2, 10, 11, 12, 13, 14]])
    with torch.no_grad():
        reloaded_logits, merged_logits = reloaded(input_ids=ids).logits, merged(input_ids=ids).logits
        base_logits = untouched(input_ids=ids).logits
    torch.testing.assert_close(reloaded_logits, merged_logits, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(reloaded_logits, base_logits, atol=1e-3), "training changed nothing"


def test_other_methods_run(project):
    full = run(project, "full", method="full", max_steps=4, eval_steps=2)
    assert (full.output_dir / "model" / "model.safetensors").is_file()
    prompt = run(project, "prompt", method="prompt_tuning", max_steps=4, eval_steps=2,
                 prompt_tuning={"num_virtual_tokens": 4})
    assert prompt.manifest["trainable_parameters"] == 4 * 32
    checkpointed = run(project, "checkpointed", gradient_checkpointing=True, max_steps=4, eval_steps=2)
    assert checkpointed.manifest["metrics"]["train_loss_last"] is not None
    with pytest.raises(ConfigError, match="qlora needs a CUDA GPU"):
        run(project, "qlora", method="qlora", max_steps=2)


def test_forgetting_check_reports_perplexity_delta(project):
    (project / "general.txt").write_text("The capital of France is Paris .\nRed is a primary colour .\n")
    result = run(project, "forget", max_steps=10, reference_texts=str(project / "general.txt"))
    forgetting = result.manifest["forgetting"]
    assert forgetting["perplexity_before"] > 1 and forgetting["perplexity_after"] > 1
    assert forgetting["delta"] == pytest.approx(forgetting["perplexity_after"] - forgetting["perplexity_before"])


def test_gate_blocks_failing_data_and_force_is_recorded(project):
    blocking = {"checks": {"max_seq_len": 8}}  # every response would be truncated away
    config, base = load_config(configure(project, "blocked", max_steps=2, **blocking))
    with pytest.raises(GateBlocked):
        finetune(config, base)
    result = runner.invoke(app, ["train", str(project / "blocked.yaml")])
    assert result.exit_code == 1 and "training blocked" in result.output
    forced = runner.invoke(app, ["train", str(project / "blocked.yaml"), "--force"])
    assert forced.exit_code == 0, forced.output
    manifest = json.loads((project / "blocked" / "manifest.json").read_text())
    assert manifest["gate"]["passed"] is False and manifest["gate"]["forced"] is True
    assert manifest["gate"]["critical_failures"]
    assert "FAILED its critical checks" in forced.output


def test_packing_keeps_examples_apart(project):
    from harness.train.formatting import collator

    from harness.train.recipe import prepare_for_training

    model = prepare_for_training(AutoModelForCausalLM.from_pretrained(project / "model")).train()
    examples = [{"input_ids": [2, 10, 11, 12], "labels": [IGNORE, IGNORE, 11, 12]},
                {"input_ids": [2, 20, 21, 22, 23, 24], "labels": [IGNORE, 20, 21, 22, 23, 24]}]
    packed = collator(1, packing=True)(examples)
    assert packed["input_ids"].shape == (1, 10) and "attention_mask" not in packed
    assert packed["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 3, 4, 5]]
    assert packed["labels"][0, 4].item() == IGNORE  # no learning across the boundary
    with torch.no_grad():
        together = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"]).logits[0]
        apart = [model(input_ids=torch.tensor([e["input_ids"]])).logits[0] for e in examples]
    torch.testing.assert_close(together, torch.cat(apart), rtol=1e-4, atol=1e-5)


def test_packed_training_runs(project):
    result = run(project, "packed", packing=True, max_steps=10, eval_steps=5)
    assert result.manifest["metrics"]["train_loss_last"] < result.manifest["metrics"]["train_loss_first"]
