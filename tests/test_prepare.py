import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config
from harness.data.prepare import prepare
from harness.data.split import SPLITS
from harness.examples import write_example

runner = CliRunner()


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("example")
    config_path = write_example(root / "ex")
    config, base = load_config(config_path)
    result = prepare(config, base, output_dir=root / "out")
    return root, config_path, result.stats


def test_every_planted_row_is_caught_for_its_reason(example):
    root, _, _ = example
    planted = json.loads((root / "ex" / "planted.json").read_text())
    rejects = pl.read_parquet(root / "out" / "rejects.parquet")
    by_line = {(r["source_file"], r["source_line"]): r["reason"] for r in rejects.iter_rows(named=True)}
    repaired = {"no_input_marker", "fix_mojibake", "unescape_html", "pii_email_redacted"}
    for item in planted["planted"]:
        key = (item["file"], item["line"])
        if item["kind"] in repaired:
            assert key not in by_line, item
        else:
            assert by_line.get(key) == item["kind"], item
    for item in planted["malformed"]:
        assert by_line[(item["file"], item["line"])] == item["reason"]
    caught = len([p for p in planted["planted"] if p["kind"] not in repaired]) + len(planted["malformed"])
    assert rejects.height == caught, "a clean row was rejected"


def test_rows_read_equal_kept_plus_rejected_per_file(example):
    root, _, stats = example
    kept = pl.concat([pl.read_parquet(root / "out" / f"{s}.parquet") for s in SPLITS])
    rejects = pl.read_parquet(root / "out" / "rejects.parquet")
    for name, counts in stats["per_file"].items():
        k = kept.filter(pl.col("source_file") == name).height
        r = rejects.filter(pl.col("source_file") == name).height
        assert counts["read"] == k + r == counts["kept"] + counts["rejected"]
    assert stats["rows_read"] == kept.height + rejects.height
    assert sorted(pl.concat([kept["row_id"], rejects["row_id"]]).to_list()) == list(range(stats["rows_read"]))


def test_repairs_are_visible_in_the_output(example):
    root, _, stats = example
    kept = pl.concat([pl.read_parquet(root / "out" / f"{s}.parquet") for s in SPLITS])
    outputs = set(kept["output"].to_list())
    assert "The French word is café." in outputs
    assert "salt & pepper" in outputs
    assert "Write to [EMAIL] or call [PHONE]." in outputs
    assert stats["steps"]["clean"]["rows_changed"]["no_input_marker"] == 2
    assert {"prompt_text", "response_text", "_quality"}.isdisjoint(kept.columns)
    assert {"topic", "region", "flags"} <= set(kept.columns)


def test_same_seed_gives_byte_identical_outputs(example, tmp_path):
    root, config_path, _ = example
    config, base = load_config(config_path)
    prepare(config, base, output_dir=tmp_path / "again", use_cache=False)
    for name in ["train.parquet", "train.jsonl", "validation.jsonl", "test.jsonl", "rejects.parquet",
                 "clusters.parquet", "stats.json"]:
        assert (root / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    other = config.model_copy(update={"seed": config.seed + 1})
    prepare(other, base, output_dir=tmp_path / "other", use_cache=False)
    assert (root / "out" / "train.jsonl").read_bytes() != (tmp_path / "other" / "train.jsonl").read_bytes()


def test_cache_reuses_unchanged_inputs_and_notices_changes(tmp_path):
    config_path = write_example(tmp_path / "ex")
    config, base = load_config(config_path)
    first = prepare(config, base, output_dir=tmp_path / "out")
    assert not first.cached
    assert prepare(config, base, output_dir=tmp_path / "out").cached
    assert not prepare(config, base, output_dir=tmp_path / "out", use_cache=False).cached
    with (tmp_path / "ex" / "data" / "part-1.jsonl").open("a") as handle:
        handle.write(json.dumps({"instruction": "New question?", "input": "", "output": "A new answer."}) + "\n")
    changed = prepare(config, base, output_dir=tmp_path / "out")
    assert not changed.cached and changed.stats["rows_read"] == first.stats["rows_read"] + 1


def test_decontamination_against_a_benchmark_file(tmp_path, write_jsonl, write_config):
    leaked = "Explain why the ocean appears blue on a clear sunny afternoon near the coast of the island"
    write_jsonl(tmp_path / "data.jsonl", [
        {"instruction": leaked, "output": "Because water absorbs red light."},
        {"instruction": "What is two plus two?", "output": "Four."},
        {"instruction": "Name a planet near the sun.", "output": "Mercury orbits closest to the Sun."},
    ])
    write_jsonl(tmp_path / "bench.jsonl", [{"question": "Q: " + leaked + "?", "answer": "x"},
                                           {"question": "Name a planet near the sun", "answer": "Mercury"}])
    config, base = load_config(write_config(tmp_path, decontaminate={"files": ["bench.jsonl"], "ngram": 8}))
    stats = prepare(config, base, output_dir=tmp_path / "out").stats
    assert stats["rejects_by_reason"] == {"contaminated": 2}
    assert stats["steps"]["decontaminate"]["dropped"] == {"bench.jsonl": 2}


def test_cli_prepare_prints_summary_and_writes_json(tmp_path):
    config_path = write_example(tmp_path / "ex")
    out = tmp_path / "out"
    result = runner.invoke(app, ["prepare", str(config_path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "rows read" in result.output and "near duplicates" in result.output
    assert json.loads((out / "stats.json").read_text())["rows_read"] > 100
    again = runner.invoke(app, ["prepare", str(config_path), "--output", str(out)])
    assert "reused" in again.output


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, write_config, write_jsonl):
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: p\ndata: {kind: instruction, inputs: [x.jsonl]}\ndedup: {near: {threshold: 2}}\n")
    result = runner.invoke(app, ["prepare", str(bad)])
    assert result.exit_code == 2
    assert "dedup.near.threshold" in result.output and "Traceback" not in result.output
    missing = runner.invoke(app, ["prepare", str(write_config(tmp_path))])
    assert missing.exit_code == 2 and "file not found" in missing.output
    write_jsonl(tmp_path / "data.jsonl", [{"instruction": "Q", "output": "A"}, b"{broken"])
    strict = runner.invoke(app, ["prepare", str(write_config(tmp_path)), "--strict"])
    assert strict.exit_code == 2 and "data.jsonl:2: invalid_json" in strict.output


def test_help_on_every_command():
    for command in ([], ["prepare"], ["demo"], ["example"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_bad_refusal_regex_is_a_config_error(tmp_path, write_config, write_jsonl):
    write_jsonl(tmp_path / "data.jsonl", [{"instruction": "Q", "output": "A"}])
    path = write_config(tmp_path, filters={"refusal_patterns": [r"sorry(?!\s+not)"]})
    result = runner.invoke(app, ["prepare", str(path), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "filters.refusal_patterns" in result.output and "Traceback" not in result.output
