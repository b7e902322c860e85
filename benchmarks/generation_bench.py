"""Generation throughput: batched (left-padded) against one example at a time, in the same run.

    python benchmarks/generation_bench.py [--prompts 64] [--batch-size 16] [--max-new-tokens 48]

Uses the real pretrained tiny Llama in ../shared/models/stories260K-hf (it says
so and stops when that is missing). Both paths run harness's ``generate`` with
greedy decoding on the same prompts; the outputs must be identical, and the
ratio of generated tokens per second is the speedup of batching.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODEL = ROOT.parent / "shared" / "models" / "stories260K-hf"

STARTS = ["Once upon a time", "The little dog", "One day, Lily", "Tom had a big red ball", "In the park",
          "The sun was hot and", "Sara wanted to", "A bird sat on"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "bench" / "generation_bench.json")
    opts = parser.parse_args()
    if not MODEL.is_dir():
        print(f"skipped: {MODEL} not found (this benchmark needs the shared tiny pretrained model)")
        return
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.eval.generate import generate, prompt_ids

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(MODEL)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    prompts = prompt_ids(tokenizer, [f"{STARTS[i % len(STARTS)]} {'and then ' * (i % 5)}".strip()
                                     for i in range(opts.prompts)], add_bos=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    results = {}
    for name, batch in (("one at a time", 1), (f"batched ({opts.batch_size})", opts.batch_size)):
        start = time.perf_counter()
        out = generate(model, tokenizer, prompts, batch_size=batch, max_new_tokens=opts.max_new_tokens)
        seconds = time.perf_counter() - start
        tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in out.texts)
        results[name] = {"seconds": seconds, "tokens": tokens, "tokens_per_second": tokens / seconds, "texts": out.texts}
    single, batched = results.values()
    same = sum(a == b for a, b in zip(single["texts"], batched["texts"], strict=True))
    print(f"{opts.prompts} prompts, greedy, max {opts.max_new_tokens} new tokens, {MODEL.name} on {device}")
    for name, r in results.items():
        print(f"{name:<16}{r['tokens_per_second']:>10,.0f} tokens/s{r['seconds']:>8.2f} s")
    print(f"batched / one at a time: {batched['tokens_per_second'] / single['tokens_per_second']:.1f}x; "
          f"identical outputs: {same}/{opts.prompts}")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({k: {m: v for m, v in r.items() if m != "texts"} for k, r in results.items()}
                                    | {"identical": same}, indent=2) + "\n")


if __name__ == "__main__":
    main()
