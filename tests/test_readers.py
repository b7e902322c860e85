import gzip
import json

import polars as pl
import pytest
import zstandard

from harness.config import DataConfig
from harness.data.ingest import read_inputs
from harness.io.readers import DataError

GOOD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


def _read(tmp_path, name="data.jsonl", **kw):
    config = DataConfig(kind=kw.pop("kind", "instruction"), inputs=[name], **kw)
    return read_inputs(config, tmp_path)


def test_each_malformed_row_is_rejected_with_its_reason(tmp_path, write_jsonl):
    write_jsonl(tmp_path / "data.jsonl", [
        GOOD,
        b'{"instruction": "broken"',
        {"instruction": "x", "output": 42},
        {"input": "no instruction", "output": "y"},
        b'{"instruction": "bad bytes", "output": "\xff"}',
        b"[1, 2]",
        "",
        GOOD | {"output": None},
    ])
    result, rows_read = _read(tmp_path)
    assert rows_read == {"data.jsonl": 7}  # the blank line is not a row
    assert result.kept["source_line"].to_list() == [1]
    reasons = dict(zip(result.rejects["source_line"].to_list(), result.rejects["reason"].to_list(), strict=True))
    assert reasons == {2: "invalid_json", 3: "wrong_type", 4: "missing_field", 5: "invalid_utf8", 6: "wrong_type",
                       8: "missing_field"}
    assert set(result.rejects["step"]) == {"read"}


def test_strict_stops_at_first_bad_row(tmp_path, write_jsonl):
    write_jsonl(tmp_path / "data.jsonl", [GOOD, b"{oops"])
    with pytest.raises(DataError, match=r"data.jsonl:2: invalid_json"):
        read_inputs(DataConfig(kind="instruction", inputs=["data.jsonl"]), tmp_path, strict=True)


def test_whole_file_errors_are_one_line(tmp_path, write_jsonl):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="holds no rows"):
        _read(tmp_path, "empty.jsonl")
    with pytest.raises(DataError, match="file not found"):
        _read(tmp_path, "missing.jsonl")
    with pytest.raises(DataError, match="matches no file"):
        _read(tmp_path, "nothing/*.jsonl")
    write_jsonl(tmp_path / "other.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DataError, match=r"none of the required columns \['instruction', 'output'\]") as info:
        _read(tmp_path, "other.jsonl")
    assert "\n" not in str(info.value)


def test_formats_and_compression(tmp_path):
    rows = [GOOD, GOOD | {"instruction": "Name a fruit."}]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress("\n".join(json.dumps(r) for r in rows).encode()))
    pl.DataFrame(rows).write_csv(tmp_path / "d.csv")
    pl.DataFrame(rows).write_parquet(tmp_path / "e.parquet")
    config = DataConfig(kind="instruction", inputs=["a.json", "b.jsonl.gz", "c.jsonl.zst", "d.csv", "e.parquet"])
    result, rows_read = read_inputs(config, tmp_path)
    assert rows_read == {"a.json": 2, "b.jsonl.gz": 2, "c.jsonl.zst": 2, "d.csv": 2, "e.parquet": 2}
    assert result.kept.height == 10 and result.rejects.is_empty()
    assert result.kept["row_id"].to_list() == list(range(10))


def test_csv_rows_with_wrong_field_count(tmp_path):
    (tmp_path / "d.csv").write_text('instruction,input,output\n"Say hi",,Hi\nonly,two\n"multi\nline",,ok\n')
    result, _ = _read(tmp_path, "d.csv")
    assert result.rejects["reason"].to_list() == ["wrong_field_count"]
    assert result.rejects["source_line"].to_list() == [3]
    assert result.kept["source_line"].to_list() == [2, 4]


def test_column_mapping_and_metadata(tmp_path, write_jsonl):
    write_jsonl(tmp_path / "dolly.jsonl", [{"instruction": "Q?", "context": "ctx", "response": "A.", "category": "qa"}])
    result, _ = _read(tmp_path, "dolly.jsonl", columns={"input": "context", "output": "response"})
    row = result.kept.row(0, named=True)
    assert (row["instruction"], row["input"], row["output"], row["category"]) == ("Q?", "ctx", "A.", "qa")


def test_sharegpt_chat_mapping(tmp_path, write_jsonl):
    write_jsonl(tmp_path / "chat.jsonl", [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
        {"conversations": [{"from": "human", "value": "Hi"}]},
        {"conversations": [{"from": "alien", "value": "Hi"}, {"from": "gpt", "value": "?"}]},
    ])
    result, _ = _read(tmp_path, "chat.jsonl", kind="chat", chat={"messages": "conversations", "role_key": "from",
                                                                  "content_key": "value"})
    assert result.kept["messages"].to_list() == [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]]
    assert result.rejects["reason"].to_list() == ["invalid_value", "invalid_value"]
