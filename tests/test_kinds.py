"""The whole pipeline on chat and classification data, not only instruction data."""

import json

import polars as pl

from harness.config import load_config
from harness.data.prepare import prepare
from harness.data.split import SPLITS


def test_chat_pipeline_cleans_redacts_and_dedups_messages(tmp_path, write_jsonl, write_config):
    def chat(user: str, answer: str) -> dict:
        return {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": user},
                             {"role": "assistant", "content": answer}], "lang": "en"}

    rows = [chat(f"What is {i} times {i + 3}?", f"{i} times {i + 3} is {i * (i + 3)}.") for i in range(40)]
    rows.append(chat("Email me at   ann@example.com", "Sure, I will write to ann@example.com today."))
    rows.append(rows[0])
    rows.append({"messages": [{"role": "user", "content": "no answer"}]})
    write_jsonl(tmp_path / "data.jsonl", rows)
    config, base = load_config(write_config(tmp_path, data={"kind": "chat", "inputs": ["data.jsonl"]}))
    stats = prepare(config, base, output_dir=tmp_path / "out").stats
    assert stats["rejects_by_reason"] == {"exact_duplicate": 1, "invalid_value": 1}
    kept = pl.concat([pl.read_parquet(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    redacted = kept.filter(pl.col("source_line") == 41)["messages"].item()
    assert [m["content"] for m in redacted] == ["Be brief.", "Email me at [EMAIL]", "Sure, I will write to [EMAIL] today."]
    assert set(kept["lang"]) == {"en"}


def test_classification_is_stratified_and_label_conflicts_found(tmp_path, write_config):
    rows = [{"text": f"review number {i} of product {i % 7}", "label": "pos" if i % 5 else "neg"} for i in range(200)]
    rows.append({"text": "review number 3 of product 3", "label": "neg"})
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    path = write_config(tmp_path, data={"kind": "classification", "inputs": ["data.jsonl"]},
                        dedup={"conflicting_responses": "drop_all"})
    config, base = load_config(path)
    stats = prepare(config, base, output_dir=tmp_path / "out").stats
    assert stats["rejects_by_reason"] == {"conflicting_response": 2}
    for split in SPLITS:
        labels = pl.read_parquet(tmp_path / "out" / f"{split}.parquet")["label"]
        assert abs((labels == "neg").mean() - 39 / 198) < 0.03, split
