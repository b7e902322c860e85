"""Canonical record schemas, the column mapping, and the two text views.

Every kind is reduced to two views that the rest of the pipeline works on:
``prompt`` (what the model reads) and ``response`` (what it must learn to
write). Filters, dedup, PII and decontamination use the views; the canonical
fields are kept unchanged for training.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from harness.config import ChatMapping, DataKind

CANONICAL_FIELDS: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "input", "output"),
    "chat": ("messages",),
    "completion": ("prompt", "completion"),
    "classification": ("text", "label"),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "output"),
    "chat": ("messages",),
    "completion": ("prompt", "completion"),
    "classification": ("text", "label"),
}
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "input", "output"),
    "chat": (),
    "completion": ("prompt", "completion"),
    "classification": ("text", "label"),
}
INTERNAL_COLUMNS = ("row_id", "source_file", "source_line", "prompt_text", "response_text")
CHAT_ROLES = ("system", "user", "assistant", "tool")


class RowError(ValueError):
    """A malformed row: it goes to the rejects with this message as its reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def source_columns(kind: DataKind, columns: dict[str, str], chat: ChatMapping) -> dict[str, str]:
    """Canonical field -> the column name the files use for it."""
    names = {field: columns.get(field, field) for field in CANONICAL_FIELDS[kind]}
    if kind == "chat" and "messages" not in columns:
        names["messages"] = chat.messages
    return names


def _as_text(value: Any, field: str, *, allow_scalar: bool) -> str:
    if isinstance(value, str):
        return value
    if allow_scalar and isinstance(value, bool | int) and not isinstance(value, float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise RowError("wrong_type", f"field {field!r} must be a string, got {type(value).__name__}")


def _chat_messages(value: Any, chat: ChatMapping) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise RowError("wrong_type", "messages must be a non-empty list of {role, content}")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise RowError("wrong_type", f"messages[{i}] must be an object, got {type(message).__name__}")
        role, content = message.get(chat.role_key), message.get(chat.content_key)
        if role is None or content is None:
            raise RowError("missing_field", f"messages[{i}] needs {chat.role_key!r} and {chat.content_key!r}")
        if not isinstance(role, str) or not isinstance(content, str):
            raise RowError("wrong_type", f"messages[{i}] role and content must be strings")
        role = chat.role_map.get(role, role)
        if role not in CHAT_ROLES:
            raise RowError("invalid_value", f"messages[{i}] has unknown role {role!r}; map it with chat.role_map")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "assistant":
        raise RowError("invalid_value", "the last message must be from the assistant (it is what is learned)")
    return messages


def canonical_record(
    raw: Any, kind: DataKind, names: dict[str, str], chat: ChatMapping
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split one raw row into (canonical fields, metadata columns) or raise RowError."""
    if not isinstance(raw, dict):
        raise RowError("wrong_type", f"a row must be an object, got {type(raw).__name__}")
    record: dict[str, Any] = {}
    for field in CANONICAL_FIELDS[kind]:
        value = raw.get(names[field])
        if value is None:
            if field in REQUIRED_FIELDS[kind]:
                raise RowError("missing_field", f"required field {names[field]!r} is missing or null")
            record[field] = ""
            continue
        if field == "messages":
            record[field] = _chat_messages(value, chat)
        else:
            record[field] = _as_text(value, names[field], allow_scalar=field == "label")
    used = set(names.values())
    metadata = {key: value for key, value in raw.items() if key not in used}
    return record, metadata


def text_views(kind: DataKind) -> tuple[pl.Expr, pl.Expr]:
    """Polars expressions for the (prompt, response) views of a canonical frame."""
    if kind == "instruction":
        prompt = (
            pl.when(pl.col("input") == "")
            .then(pl.col("instruction"))
            .otherwise(pl.col("instruction") + "\n" + pl.col("input"))
        )
        return prompt.alias("prompt_text"), pl.col("output").alias("response_text")
    if kind == "chat":
        contents = pl.col("messages").list.eval(pl.element().struct.field("content"))
        prompt = contents.list.slice(0, pl.col("messages").list.len() - 1).list.join("\n")
        return prompt.alias("prompt_text"), contents.list.last().alias("response_text")
    if kind == "completion":
        return pl.col("prompt").alias("prompt_text"), pl.col("completion").alias("response_text")
    return pl.col("text").alias("prompt_text"), pl.col("label").alias("response_text")
