"""Training throughput: harness's training setup against a plain Trainer + peft baseline.

    python benchmarks/train_bench.py [--size small|135m] [--steps 30]

Both train the same LoRA on the same Llama-style model config (random weights:
throughput needs no trained weights), the same examples (instruction-like
lengths, from short to long), and the same effective batch (examples per step),
each in a fresh process. The baseline pads each batch
(a plain right-padding collator) in fp32; harness packs the batch without
cross-example attention and, on a GPU, trains in bf16.

Printed: tokens/s of real (non-padding) tokens, peak memory (CUDA allocator on
a GPU, RSS on CPU), and the largest gap between the two loss curves. Goal on a
GPU: >= 1.5x the baseline's tokens/s at <= 0.7x its peak memory, with the same
loss curve.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {
    "small": {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 8,
              "num_key_value_heads": 4, "vocab_size": 4096},
    "135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
             "num_key_value_heads": 3, "vocab_size": 49152},
}


def examples(count: int, vocab: int, seed: int = 0) -> list[dict[str, list[int]]]:
    """Lengths like instruction data: most short, a long tail; the first third is prompt (no loss)."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        length = min(1024, int(rng.lognormvariate(5.0, 0.7)) + 16)
        ids = [rng.randrange(4, vocab) for _ in range(length)]
        prompt = length // 3
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def _run(method: str, size: str, steps: int, batch: int, queue: mp.Queue) -> None:
    try:
        queue.put(_train(method, size, steps, batch))
    except BaseException:  # the parent must hear about a crash instead of waiting forever
        import traceback

        queue.put({"error": traceback.format_exc()})


def _train(method: str, size: str, steps: int, batch: int) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    from harness.config import TrainConfig
    from harness.train.formatting import PadCollator, collator
    from harness.train.recipe import apply_method, prepare_for_training, training_arguments

    torch.manual_seed(0)
    config = LlamaConfig(**SIZES[size], max_position_embeddings=2048, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config)
    data = examples(steps * batch, config.vocab_size)
    gpu = torch.cuda.is_available()
    losses: list[float] = []

    class Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as tmp:
        train = TrainConfig(model="random", max_steps=steps, batch_size=batch, eval_steps=steps, learning_rate=1e-3,
                            warmup=0, packing=method == "harness", precision="auto" if method == "harness" else "fp32")
        if method == "harness":
            model = apply_method(prepare_for_training(model), train)
            args = training_arguments(train, Path(tmp), seed=0, has_validation=False)
            data_collator = collator(0, packing=True)
        else:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05,
                                                     target_modules="all-linear"))
            args = TrainingArguments(output_dir=tmp, max_steps=steps, per_device_train_batch_size=batch,
                                     learning_rate=1e-3, lr_scheduler_type="cosine", logging_steps=1, save_strategy="no",
                                     report_to="none", remove_unused_columns=False, seed=0, data_seed=0,
                                     disable_tqdm=True, use_cpu=not gpu)
            data_collator = PadCollator(0)
        args.logging_steps = 1
        args.save_strategy = "no"
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=data_collator,
                          callbacks=[Losses()])
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    real_tokens = sum(len(e["input_ids"]) for e in data)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if gpu
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"tokens_per_second": real_tokens / seconds, "seconds": seconds, "peak_mib": peak, "losses": losses,
            "device": torch.cuda.get_device_name() if gpu else "cpu", "real_tokens": real_tokens}


def measure(method: str, size: str, steps: int, batch: int) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(method, size, steps, batch, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"the {method} run failed:\n{result['error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "bench" / "train_bench.json")
    opts = parser.parse_args()
    baseline = measure("baseline", opts.size, opts.steps, opts.batch)
    harness = measure("harness", opts.size, opts.steps, opts.batch)
    gap = max(abs(a - b) for a, b in zip(baseline["losses"], harness["losses"], strict=False))
    speed = harness["tokens_per_second"] / baseline["tokens_per_second"]
    memory = harness["peak_mib"] / baseline["peak_mib"]
    print(f"{opts.size} Llama config, LoRA r16, {opts.steps} steps x {opts.batch} examples, "
          f"{baseline['real_tokens']:,} real tokens, on {baseline['device']}")
    print(f"{'':<10}{'tokens/s':>12}{'peak MiB':>10}{'final loss':>12}")
    for name, r in (("baseline", baseline), ("harness", harness)):
        print(f"{name:<10}{r['tokens_per_second']:>12,.0f}{r['peak_mib']:>10,.0f}{r['losses'][-1]:>12.4f}")
    print(f"harness / baseline: {speed:.2f}x tokens/s, {memory:.2f}x peak memory; largest loss-curve gap {gap:.4f}")
    if baseline["device"] != "cpu":
        met = speed >= 1.5 and memory <= 0.7
        print(f"goal (>= 1.5x tokens/s, <= 0.7x memory on GPU): {'met' if met else 'NOT met'}")
    else:
        print("on CPU the memory column is the whole process's RSS; the GPU goal needs a GPU run")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({"baseline": baseline, "harness": harness, "speedup": speed,
                                     "memory_ratio": memory, "loss_gap": gap}, indent=2) + "\n")


if __name__ == "__main__":
    main()
