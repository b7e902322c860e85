"""Two iterations of the loop on the built-in example and a tiny model (CPU, runs in CI)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config
from harness.examples import supply_requested_data, write_example
from harness.loop import run_iteration
from harness.runs import compare_runs, list_runs

runner = CliRunner()
PAYLOAD = "<script>alert('pwned')</script>"


@pytest.fixture(scope="module")
def two_iterations(tmp_path_factory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("loop")
    config_path = write_example(root / "example", with_model=True)
    raw = yaml.safe_load(config_path.read_text())
    raw["train"] |= {"max_steps": 60, "eval_steps": 30}
    raw["eval"] |= {"bootstrap_resamples": 50, "max_new_tokens": 16}
    config_path.write_text(yaml.safe_dump(raw))
    # A user-supplied script payload in the data: it must stay inert in every page.
    with (root / "example" / "data" / "part-1.jsonl").open("a") as handle:
        handle.write(json.dumps({"instruction": f"Describe {PAYLOAD} please.", "input": "", "output": "It is text.",
                                 "topic": PAYLOAD, "region": "north"}) + "\n")
    config, base = load_config(config_path)
    first = run_iteration(config, base, root=root / "runs")
    supply_requested_data(first.report | {"targeted": first.report["targeted"] | {"requests": [
        {"id": "R1", "attribute": "topic", "group": "arithmetic", "add_examples": 40}]}}, root / "example")
    second = run_iteration(config, base, root=root / "runs")
    return root, config_path, [first, second]


def test_iteration_folders_hold_every_stage(two_iterations):
    root, _, results = two_iterations
    for result, name in zip(results, ["iter-001", "iter-002"], strict=True):
        folder = root / "runs" / name
        assert result.folder == folder and result.passed_gate
        for path in ["data/train.parquet", "checks/checks.json", "train/model", "train/manifest.json", "eval/eval.json",
                     "eval/predictions.parquet", "report.md", "report.html", "report.json", "manifest.json",
                     "data_requests.jsonl"]:
            assert (folder / path).exists(), path
        manifest = json.loads((folder / "manifest.json").read_text())
        assert set(manifest["splits"]) == {"train", "validation", "test"} and manifest["inputs"]
        assert {"prepare", "check", "train", "eval"} <= set(manifest["seconds"]) and manifest["seed"] == 7
    added = json.loads((root / "runs" / "iter-002" / "manifest.json").read_text())["inputs"]
    assert any("requested-1.jsonl" in path for path in added)


def test_report_names_failure_categories_and_asks_for_data(two_iterations):
    root, _, results = two_iterations
    report = json.loads((root / "runs" / "iter-001" / "report.json").read_text())
    named = {c["category"] for c in report["targeted"]["categories"]}
    assert named and named <= {"empty", "refusal", "truncated", "overlong", "repetition", "misspelling",
                               "format_error", "hallucination", "inconsistency", "wrong_answer"}
    markdown = (root / "runs" / "iter-001" / "report.md").read_text()
    assert all(f"**{c}**" in markdown for c in named) and "## Data to collect next" in markdown
    requests = [json.loads(line) for line in (root / "runs" / "iter-001" / "data_requests.jsonl").read_text().splitlines()]
    if report["targeted"]["requests"]:
        assert requests and all(r["nearest_training"] for r in requests)


def test_second_iteration_is_compared_with_the_first(two_iterations):
    root, _, results = two_iterations
    comparison = results[1].report["comparison"]
    assert comparison["previous"] == "iter-001" and comparison["paired_examples"] > 0
    assert all(v["status"] in {"improved", "regressed", "unchanged", "resolved"}
               for v in list(comparison["scores"].values()) + list(comparison["categories"].values()))
    assert "Compared with iteration iter-001" in (root / "runs" / "iter-002" / "report.md").read_text()
    again = compare_runs(root / "runs", "iter-001", "iter-002", resamples=50, seed=7)
    assert again["paired_examples"] == comparison["paired_examples"]


class _StrictParser(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


def test_html_is_well_formed_self_contained_and_inert(two_iterations):
    root, _, _ = two_iterations
    page = (root / "runs" / "iter-002" / "report.html").read_text()
    parser = _StrictParser()
    parser.feed(page)
    assert parser.stack == [] and parser.scripts == 0
    assert page.count("<svg") >= 3 and "http://" not in page.split("<svg")[0] and "src=" not in page
    assert PAYLOAD not in page
    predictions = pl.read_parquet(root / "runs" / "iter-002" / "eval" / "predictions.parquet")
    if (predictions["topic"] == PAYLOAD).any():  # the payload row reached the test split: its group is in the plot
        assert "&lt;script&gt;" in page


def test_runs_list_and_compare_commands(two_iterations):
    root, config_path, _ = two_iterations
    assert [r["iteration"] for r in list_runs(root / "runs")] == ["iter-001", "iter-002"]
    listed = runner.invoke(app, ["runs", "list", str(config_path), "--root", str(root / "runs")])
    assert listed.exit_code == 0 and "iter-001" in listed.output and "iter-002" in listed.output
    compared = runner.invoke(app, ["runs", "compare", str(config_path), "iter-001", "iter-002", "--root",
                                   str(root / "runs")])
    assert compared.exit_code == 0 and "paired test examples" in compared.output
    missing = runner.invoke(app, ["runs", "compare", str(config_path), "iter-001", "iter-009", "--root",
                                  str(root / "runs")])
    assert missing.exit_code == 2 and "no evaluation" in missing.output


def test_held_out_benchmark_is_compared_item_by_item(two_iterations):
    _, _, results = two_iterations
    benchmark = results[1].report["comparison"]["benchmarks"]["arithmetic"]
    assert benchmark["metric"] == "token_f1" and benchmark["status"] in {"improved", "regressed", "unchanged"}
    assert len(results[1].report["eval"]["benchmarks"]["arithmetic"]["tuned"]["per_item"]) == 40


def test_report_renders_in_a_headless_browser(two_iterations, tmp_path):
    """A screenshot of the page is not blank. .ci/run installs Debian's Chromium; elsewhere this skips."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it from Debian's packages)")
    root, _, _ = two_iterations
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600", f"--screenshot={shot}",
                    (root / "runs" / "iter-002" / "report.html").resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page


def test_bad_config_or_crashed_iteration_does_not_block_the_next(tmp_path):
    path = write_example(tmp_path / "ex")
    raw = yaml.safe_load(path.read_text())
    raw.pop("train")
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["loop", str(path), "--root", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "train section" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs" / "iter-001").exists()
    (tmp_path / "runs" / "iter-001").mkdir(parents=True)  # an iteration that crashed before its manifest
    from harness.loop import run_iteration

    config, base = load_config(path)
    with pytest.raises(Exception, match="train section"):
        run_iteration(config, base, root=tmp_path / "runs")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["iter-001"]
    bad = runner.invoke(app, ["runs", "list", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "config file not found" in bad.output
