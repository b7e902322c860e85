"""``harness check``: planted defects fail the right check with the right severity and exit code."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from harness.checks.gate import run_checks
from harness.checks.suites import SuiteError, read_suite
from harness.cli import app
from harness.config import load_config
from harness.data.split import SPLITS

runner = CliRunner()
REGIONS = ["north", "south", "east", "west"]


def instruction_rows(n: int = 200) -> list[dict]:
    return [
        {"instruction": f"Describe item number {i} in the catalogue.", "input": "",
         "output": f"Item {i} is a sturdy wooden box painted in shade {i % 9} with a brass hinge.",
         "region": REGIONS[i % 4]}
        for i in range(n)
    ]


def write_prepared(directory: Path, rows: list[dict], ratios=(0.7, 0.15, 0.15)) -> Path:
    """Splits as prepare writes them (row_id, source columns, fields, metadata, flags)."""
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows, infer_schema_length=None).with_row_index("row_id").with_columns(
        pl.col("row_id").cast(pl.Int64), pl.lit("data.jsonl").alias("source_file"),
        (pl.col("row_id") + 1).alias("source_line"), pl.lit([], dtype=pl.List(pl.String)).alias("flags"))
    if "split" not in frame.columns:
        cut1, cut2 = int(frame.height * ratios[0]), int(frame.height * (ratios[0] + ratios[1]))
        frame = frame.with_columns(
            pl.when(pl.col("row_id") < cut1).then(pl.lit("train"))
            .when(pl.col("row_id") < cut2).then(pl.lit("validation")).otherwise(pl.lit("test")).alias("split"))
    for split in SPLITS:
        frame.filter(pl.col("split") == split).drop("split").write_parquet(data / f"{split}.parquet")
    return data


def config_file(directory: Path, kind: str = "instruction", **sections) -> Path:
    config = {"project": "t", "data": {"kind": kind, "inputs": ["unused.jsonl"]},
              "checks": {"data_dir": "data"} | sections.pop("checks", {})} | sections
    path = directory / "harness.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def check(directory: Path, *args: str):
    result = runner.invoke(app, ["check", str(directory / "harness.yaml"), *args])
    report = json.loads((directory / "checks" / "checks.json").read_text()) if (directory / "checks" / "checks.json").exists() else None
    return result, report


def failed(report: dict) -> dict[str, str]:
    return {c["description"]: c["severity"] for c in report["checks"] if not c["success"]}


def test_clean_data_passes(tmp_path):
    write_prepared(tmp_path, instruction_rows())
    config_file(tmp_path, bias={"attributes": ["region"]})
    result, report = check(tmp_path)
    assert result.exit_code == 0, result.output
    assert report["passed"] and failed(report) == {}
    assert "gate: PASS" in result.output
    assert report["bias"]["attributes"]["region"]["groups"]["north"]["count"] == 35


def test_nulls_fail_critical(tmp_path):
    rows = instruction_rows()
    rows[5]["output"] = None
    write_prepared(tmp_path, rows)
    config_file(tmp_path)
    result, report = check(tmp_path)
    assert result.exit_code == 1
    assert failed(report) == {"no output is null": "critical"}
    null_check = next(c for c in report["checks"] if c["description"] == "no output is null")
    assert null_check["example_row_ids"] == [5] and null_check["unexpected_count"] == 1


def test_leftover_duplicates_and_leaked_test_rows(tmp_path):
    rows = instruction_rows()
    rows[3] = dict(rows[2])  # a duplicate inside train
    rows[190] = dict(rows[10]) | {"output": "A different answer to a train prompt."}  # a train prompt in test
    write_prepared(tmp_path, rows)
    config_file(tmp_path)
    result, report = check(tmp_path)
    assert result.exit_code == 1
    assert failed(report) == {
        "no exact duplicate (same normalised prompt and response) is left in the data": "critical",
        "no validation or test prompt also appears in the train split": "critical",
    }
    leak = next(c for c in report["checks"] if c["column"] == "leaks_from_train")
    assert leak["example_row_ids"] == [190]
    assert "data.jsonl:191" in result.output


def test_over_length_rows(tmp_path):
    rows = instruction_rows()
    rows[0]["instruction"] = "word " * 400  # prompt alone fills the window: the response is truncated away
    rows[1]["output"] = "word " * 400  # too long, but the response keeps tokens
    write_prepared(tmp_path, rows)
    config_file(tmp_path, checks={"max_seq_len": 64, "max_overlength_rate": 0.0})
    result, report = check(tmp_path)
    assert result.exit_code == 1
    assert failed(report) == {
        "every response keeps at least one token after truncation to max_seq_len (else the example trains on nothing)": "critical",
        "at most max_overlength_rate of the rows are longer than max_seq_len tokens (they get truncated)": "warning",
    }
    over = next(c for c in report["checks"] if c["column"] == "total_tokens")
    assert sorted(over["example_row_ids"]) == [0, 1]


def test_refusals_and_pii_rates(tmp_path):
    rows = instruction_rows()
    rows[7]["output"] = "As an AI language model, I cannot describe boxes."
    rows[8]["output"] = "Ask sam@example.com about this box."
    write_prepared(tmp_path, rows)
    config_file(tmp_path)
    _, report = check(tmp_path)
    observed = {c["column"]: c["observed"] for c in report["checks"] if not c["success"]}
    assert observed == {"refusal_rate": 1 / 200, "pii_rate": 1 / 200}


def test_under_represented_group_blocks(tmp_path):
    rows = instruction_rows()
    for i, row in enumerate(rows):
        row["region"] = "islands" if i == 0 else REGIONS[i % 3]
    write_prepared(tmp_path, rows)
    config_file(tmp_path, bias={"attributes": ["region"], "min_group_share": 0.05})
    result, report = check(tmp_path)
    assert result.exit_code == 1
    assert failed(report) == {"every region group is at least 5% of the train split": "critical"}
    assert report["bias"]["attributes"]["region"]["smallest_group"] == "islands"


def classification_rows() -> list[dict]:
    rows = []
    for i in range(400):
        group = "a" if i % 2 else "b"
        toxic = (i % 10 < 6) if group == "a" else (i % 10 < 1)
        rows.append({"text": f"comment {i} about topic {i % 13}", "label": "toxic" if toxic else "ok", "dialect": group})
    return rows


def test_label_skew_between_groups_is_a_warning_by_default_and_critical_by_config(tmp_path):
    write_prepared(tmp_path, classification_rows())
    config_file(tmp_path, kind="classification", bias={"attributes": ["dialect"]})
    result, report = check(tmp_path)
    assert result.exit_code == 0, result.output
    outcome = report["bias"]["attributes"]["dialect"]["outcome"]
    assert outcome["positive_value"] == "toxic"
    assert outcome["rate_by_group"] == {"a": pytest.approx(0.6, abs=0.02), "b": pytest.approx(0.2, abs=0.02)}
    assert set(failed(report).values()) == {"warning"} and len(failed(report)) == 2
    config_file(tmp_path, kind="classification", bias={"attributes": ["dialect"], "parity_severity": "critical"})
    assert check(tmp_path)[0].exit_code == 1


def test_classification_labels_outside_allowed_set(tmp_path):
    rows = classification_rows()
    rows[399]["label"] = "spam"
    write_prepared(tmp_path, rows)
    config_file(tmp_path, kind="classification", checks={"allowed_labels": ["toxic", "ok"]})
    _, report = check(tmp_path)
    assert "every label is in the allowed set (default: the labels of the train split)" in failed(report)


def test_force_passes_a_failing_gate_and_is_recorded(tmp_path):
    rows = instruction_rows()
    rows[5]["output"] = None
    write_prepared(tmp_path, rows)
    config_file(tmp_path)
    result, report = check(tmp_path, "--force")
    assert result.exit_code == 0
    assert report["passed"] is False and report["forced"] is True and report["training_allowed"] is True
    assert "overridden by --force" in result.output


def test_term_mentions_per_group(tmp_path):
    rows = instruction_rows(100)
    for i, row in enumerate(rows):
        row["output"] += " She smiled." if i < 10 else " He nodded."
    write_prepared(tmp_path, rows)
    terms = {"gender": {"female": ["she", "her"], "male": ["he", "him"]}}
    config_file(tmp_path, bias={"terms": terms, "min_term_share_ratio": 0.5})
    result, report = check(tmp_path)
    shares = report["bias"]["terms"]["gender"]["share_mentioning"]
    train_rows = 70
    assert shares == {"female": pytest.approx(10 / train_rows, abs=1e-3), "male": pytest.approx(60 / train_rows, abs=1e-3)}
    assert "warning" in failed(report).values() and result.exit_code == 0


class _Strict(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag not in {"meta", "br"}:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


def test_html_escapes_user_text(tmp_path):
    rows = instruction_rows()
    rows[5]["output"] = None
    rows[5]["instruction"] = "<script>alert('x')</script> describe"
    rows[6]["region"] = "<img src=x onerror=alert(1)>"
    write_prepared(tmp_path, rows)
    config_file(tmp_path, bias={"attributes": ["region"], "min_group_share": 0.0})
    check(tmp_path)
    page = (tmp_path / "checks" / "checks.html").read_text()
    parser = _Strict()
    parser.feed(page)
    assert parser.scripts == 0 and parser.stack == []
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "&lt;img src=x" in page


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ('{"expectations": [{"type": "expect_column_values_to_be_banana", "kwargs": {"column": "a"}}]}',
         "expectation #1 (expect_column_values_to_be_banana): Could not add expectation"),
        ('{"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "a"}}]}',
         "expectation #1 (expect_column_values_to_not_be_null): invalid arguments: column (field required)"),
        ('{"expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "severity": "fatal"}]}',
         "expectation #1 (expect_column_to_exist): severity must be one of"),
        ('{"expectations": [', "not valid JSON"),
    ],
)
def test_invalid_suite_file_names_file_and_expectation(tmp_path, suite, message):
    path = tmp_path / "suites" / "mine.json"
    path.parent.mkdir()
    path.write_text(suite)
    with pytest.raises(SuiteError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        read_suite(path)
    assert str(path) in str(info.value)
    write_prepared(tmp_path, instruction_rows())
    config_file(tmp_path, checks={"suites": ["mine"]})
    result = runner.invoke(app, ["check", str(tmp_path / "harness.yaml")])
    assert result.exit_code == 2 and "mine.json" in result.output and "Traceback" not in result.output


def test_user_suite_with_a_config_threshold(tmp_path):
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "short.json").write_text(json.dumps({"name": "short", "expectations": [
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "response_tokens", "max_value": 5},
         "severity": "critical", "meta": {"description": "answers are at most 5 tokens"}}]}))
    write_prepared(tmp_path, instruction_rows())
    config_file(tmp_path, checks={"suites": ["common", "instruction", "short"]})
    result, report = check(tmp_path)
    assert result.exit_code == 1 and failed(report) == {"answers are at most 5 tokens": "critical"}


def test_missing_data_and_unknown_attribute_are_usage_errors(tmp_path):
    config_file(tmp_path)
    result = runner.invoke(app, ["check", str(tmp_path / "harness.yaml")])
    assert result.exit_code == 2 and "run `harness prepare CONFIG` first" in result.output
    write_prepared(tmp_path, instruction_rows())
    config_file(tmp_path, bias={"attributes": ["gender"]})
    result = runner.invoke(app, ["check", str(tmp_path / "harness.yaml")])
    assert result.exit_code == 2 and "bias.attributes: ['gender'] not found" in result.output


def test_suites_list_and_show():
    listed = runner.invoke(app, ["suites", "list"])
    assert listed.exit_code == 0
    assert all(name in listed.output for name in ("common", "instruction", "chat", "completion", "classification"))
    shown = runner.invoke(app, ["suites", "show", "classification"])
    assert "every label is in the allowed set" in shown.output and "critical" in shown.output


def test_prepared_example_passes_the_gate(tmp_path):
    from harness.data.prepare import prepare
    from harness.examples import write_example

    config, base = load_config(write_example(tmp_path / "ex"))
    prepare(config, base, output_dir=tmp_path / "data")
    verdict = run_checks(config, base, data_dir=tmp_path / "data")
    assert verdict.passed, [o.description for o in verdict.failures()]
