"""Token-length filter with a tokenizer built here (no download)."""

import polars as pl
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from harness.config import load_config
from harness.data.prepare import prepare
from harness.data.tokens import TokenizerError, load_token_counter


@pytest.fixture
def tokenizer_dir(tmp_path):
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate("a b c d e f g h the cat sat on mat".split())}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    return tmp_path / "tok"


def test_counts_tokens_of_a_local_tokenizer(tokenizer_dir):
    count = load_token_counter(str(tokenizer_dir))
    assert count(["the cat sat", "a b c d e f g h", ""]) == [3, 8, 0]


def test_unloadable_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(TokenizerError, match="filters.tokenizer: cannot load"):
        load_token_counter(str(tmp_path / "no-such-tokenizer"))


def test_too_many_tokens_rejected_with_quantiles(tmp_path, tokenizer_dir, write_jsonl, write_config):
    write_jsonl(tmp_path / "data.jsonl", [
        {"instruction": "the cat", "output": "sat on the mat"},
        {"instruction": "a b c d e f g h", "output": "a b c d e f g h a b c d"},
    ])
    path = write_config(tmp_path, filters={"tokenizer": str(tokenizer_dir), "max_tokens": 10})
    config, base = load_config(path)
    stats = prepare(config, base, output_dir=tmp_path / "out").stats
    assert stats["rejects_by_reason"] == {"too_many_tokens": 1}
    assert stats["lengths"]["prompt_tokens"]["p100"] == 8.0
    assert stats["lengths"]["response_tokens"]["p0"] == 4.0
    assert pl.read_parquet(tmp_path / "out" / "rejects.parquet")["source_line"].to_list() == [2]
