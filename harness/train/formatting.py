"""Rows -> token ids and labels: templates, chat template, response-only loss, truncation.

The prompt and the response are tokenised separately and concatenated, so the
boundary between them is exact (tokenising the joined text can merge tokens
across it). With ``loss_on="response"`` the prompt's labels are -100. An
example longer than ``max_seq_len`` is cut at the end and counted; one with no
response token left would train on nothing, so it is dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
import torch

from harness.config import ConfigError, DataKind, TemplateSettings

IGNORE = -100


@dataclass
class Encoded:
    examples: list[dict[str, list[int]]]
    truncated: int = 0
    dropped_no_response: int = 0
    tokens: int = 0
    response_tokens: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def prompt_and_response(row: dict, kind: DataKind, templates: TemplateSettings, tokenizer) -> tuple[str, str]:
    """The text the model reads and the text it learns to write, for one row."""
    if kind == "instruction":
        prompt = templates.instruction.format(instruction=row["instruction"])
        if row.get("input"):
            prompt += templates.input.format(input=row["input"])
        return prompt + templates.response, row["output"]
    if kind == "completion":
        return row["prompt"], row["completion"]
    if kind == "classification":
        return templates.classification.format(text=row["text"]), row["label"]
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError("chat data needs a tokenizer with a chat template; this model's tokenizer has none")
    messages = row["messages"]
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ConfigError("the chat template renders the conversation so that its prompt is not a prefix of it")
    return prompt, full[len(prompt):]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_rows(
    frame: pl.DataFrame, *, kind: DataKind, tokenizer, templates: TemplateSettings, max_seq_len: int,
    loss_on: str = "response",
) -> Encoded:
    """Token ids and labels for every row, with what truncation cost."""
    encoded = Encoded(examples=[])
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None and kind != "chat" else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None and kind != "chat" else []
    for row in frame.iter_rows(named=True):
        prompt, response = prompt_and_response(row, kind, templates, tokenizer)
        prompt_ids = bos + _ids(tokenizer, prompt)
        response_ids = _ids(tokenizer, response) + eos
        ids = prompt_ids + response_ids
        labels = ([IGNORE] * len(prompt_ids) if loss_on == "response" else list(prompt_ids)) + list(response_ids)
        if len(ids) > max_seq_len:
            encoded.truncated += 1
            ids, labels = ids[:max_seq_len], labels[:max_seq_len]
        learned = sum(1 for label in labels if label != IGNORE)
        if learned == 0:
            encoded.dropped_no_response += 1
            continue
        encoded.tokens += len(ids)
        encoded.response_tokens += learned
        encoded.examples.append({"input_ids": ids, "labels": labels})
    encoded.stats = {
        "examples": len(encoded.examples), "truncated": encoded.truncated,
        "dropped_no_response_tokens": encoded.dropped_no_response, "tokens": encoded.tokens,
        "tokens_with_loss": encoded.response_tokens,
    }
    return encoded


def collator(pad_token_id: int, *, packing: bool):
    """Padding, or packing: one row per batch with position ids restarting at every example.

    With no attention mask, transformers derives a block-diagonal mask from
    the position ids, so packed examples never attend to each other (a test
    compares packed and separate logits); each example's first label becomes
    -100, so no token learns across a boundary.
    """
    if packing:
        from transformers import DataCollatorWithFlattening

        return DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE)
    return PadCollator(pad_token_id)


class PadCollator:
    """Right-pads a batch; padding carries no attention and no loss."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(item["input_ids"]) for item in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[i, :n] = torch.tensor(item["input_ids"])
            labels[i, :n] = torch.tensor(item["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
