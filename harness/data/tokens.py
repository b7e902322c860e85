"""Token counts with the tokenizer of the model that will be trained."""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.data.filters import TokenCounter


BATCH = 10_000


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

    backend = getattr(tokenizer, "backend_tokenizer", None)

    def count(texts: Sequence[str]) -> list[int]:
        """Lengths only, in batches: the ids of a million texts as Python lists took 15 GiB."""
        lengths: list[int] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            if backend is not None:
                lengths += [len(e.ids) for e in backend.encode_batch_fast(batch, add_special_tokens=False)]
            else:
                lengths += [len(ids) for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]]
        return lengths

    return count
