"""Batched generation with left padding, from the same token ids training used.

Prompts are tokenised exactly as ``harness.train.formatting`` builds them (BOS +
prompt tokens), left-padded per batch so every sequence ends where generation
starts, and decoded after the prompt. Greedy by default; sampling with
temperature/top_p; a stop string cuts the answer. ``hit_max_tokens`` tells
which answers ran out of tokens rather than finished (the ``truncated`` error
category).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class Generation:
    texts: list[str]
    hit_max_tokens: list[bool]


def prompt_ids(tokenizer, prompts: Sequence[str], *, add_bos: bool) -> list[list[int]]:
    bos = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    return [bos + tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]


def _cut(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stop if s and s in text]
    return (text[: min(positions)], True) if positions else (text, False)


@torch.no_grad()
def generate(
    model, tokenizer, prompts: Sequence[list[int]], *, batch_size: int = 8, max_new_tokens: int = 128,
    temperature: float = 0.0, top_p: float = 1.0, stop: Sequence[str] = (), progress: Callable[[int], None] | None = None,
) -> Generation:
    """Answers for token-id prompts, in order."""
    model.eval()
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    texts: list[str] = []
    hit_max: list[bool] = []
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, ids in enumerate(batch):
            input_ids[i, width - len(ids):] = torch.tensor(ids)
            mask[i, width - len(ids):] = 1
        output = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                                max_new_tokens=max_new_tokens, pad_token_id=pad,
                                eos_token_id=tokenizer.eos_token_id, **sampling)
        for row in output[:, width:].tolist():
            finished = tokenizer.eos_token_id in row
            if finished:
                row = row[: row.index(tokenizer.eos_token_id)]
            text, stopped = _cut(tokenizer.decode(row, skip_special_tokens=True), stop)
            texts.append(text.strip())
            hit_max.append(not finished and not stopped and len(row) >= max_new_tokens)
        if progress is not None:
            progress(len(batch))
    return Generation(texts=texts, hit_max_tokens=hit_max)
