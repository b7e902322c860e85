"""Token counts with the tokenizer of the model that will be trained."""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.data.filters import TokenCounter


class TokenizerError(ValueError):
    """The configured tokenizer cannot be loaded."""


def load_token_counter(name_or_path: str) -> TokenCounter:
    """A function counting tokens (no special tokens) of many texts at once."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise TokenizerError(
            f"filters.tokenizer: cannot load {name_or_path!r} ({str(exc).splitlines()[0]}); "
            "give a local folder with tokenizer files, or a hub id this machine can reach"
        ) from None

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    return count
