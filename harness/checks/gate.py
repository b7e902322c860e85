"""``harness check``: validate the prepared data and decide whether training may start.

Training may start when every critical expectation passes (suites and bias
checks alike). Warnings are reported and never block. ``--force`` lets a
failing gate pass, and the override is written into the verdict, so a run
trained on data that failed its checks always says so.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from harness.checks.bias import find_bias
from harness.checks.derived import add_data_facts, add_row_facts, load_splits, suite_parameters
from harness.checks.render import write_html
from harness.checks.suites import CheckOutcome, read_suite, referenced_columns, run_expectations, suite_path
from harness.config import HarnessConfig
from harness.data.prepare import default_output_dir
from harness.data.tokens import load_token_counter
from harness.io.writers import write_json
from harness.progress import Reporter

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


@dataclass
class Verdict:
    passed: bool
    forced: bool
    data_dir: str
    rows: int
    outcomes: list[CheckOutcome]
    bias: dict
    examples: dict[int, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed or self.forced else EXIT_FAIL

    def failures(self, severity: str | None = None) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.success and (severity is None or o.severity == severity)]

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "forced": self.forced,
            "training_allowed": self.passed or self.forced,
            "exit_code": self.exit_code,
            "data_dir": self.data_dir,
            "rows": self.rows,
            "critical_failures": len(self.failures("critical")),
            "warnings": len(self.failures("warning")),
            "checks": [asdict(o) | {"observed_text": o.observed_text()} for o in self.outcomes],
            "bias": self.bias,
            "examples": {str(k): v for k, v in self.examples.items()},
            "seconds": self.seconds,
        }


def data_dir_for(config: HarnessConfig, base: Path) -> Path:
    if config.checks.data_dir is None:
        return default_output_dir(config)
    path = Path(config.checks.data_dir)
    return path if path.is_absolute() else base / path


def _expectations(config: HarnessConfig, base: Path) -> list[dict]:
    names = config.checks.suites if config.checks.suites is not None else ["common", config.data.kind]
    expectations = []
    for name in names:
        suite = read_suite(suite_path(name, base))
        for expectation in suite["expectations"]:
            expectations.append(expectation | {"meta": expectation.get("meta", {}) | {"suite": suite["name"]}})
    return expectations


def _examples(frame: pl.DataFrame, outcomes: list[CheckOutcome]) -> dict[int, dict]:
    wanted = sorted({i for o in outcomes if not o.success for i in o.example_row_ids})
    rows = frame.filter(pl.col("row_id").is_in(wanted)).select(
        "row_id", "split", "source_file", "source_line",
        pl.col("prompt_text").str.slice(0, 200).alias("prompt"),
        pl.col("response_text").str.slice(0, 200).alias("response"),
    )
    return {r["row_id"]: r for r in rows.iter_rows(named=True)}


def run_checks(
    config: HarnessConfig, base: Path, *, data_dir: Path | None = None, force: bool = False,
    reporter: Reporter | None = None,
) -> Verdict:
    """Every suite expectation and bias check on the prepared data, in one validation."""
    reporter = reporter or Reporter(None)
    data_dir = data_dir or data_dir_for(config, base)
    with reporter.step("loading suites (great-expectations)"):
        expectations = _expectations(config, base)
    tokenizer = config.checks.tokenizer or config.filters.tokenizer
    with reporter.step("loading prepared data"):
        frame = load_splits(data_dir)
    with reporter.step("computing check columns (polars)"):
        frame = add_row_facts(frame, config, load_token_counter(tokenizer) if tokenizer else None)
        frame = add_data_facts(frame, config)
        bias = find_bias(frame, kind=config.data.kind, config=config.bias)
        frame = frame.with_columns(pl.lit(v, dtype=pl.Float64).alias(k) for k, v in bias.columns.items())
        expectations += bias.expectations
        parameters = suite_parameters(frame, config)
        columns = sorted((referenced_columns(expectations) | {"row_id"}) & set(frame.columns))
        pandas_frame = frame.select(columns).to_pandas()
    with reporter.step("validating (great-expectations)"):
        outcomes = run_expectations(pandas_frame, expectations, parameters)
    passed = not any(not o.success and o.severity == "critical" for o in outcomes)
    return Verdict(passed=passed, forced=force and not passed, data_dir=str(data_dir), rows=frame.height,
                   outcomes=outcomes, bias=bias.report, examples=_examples(frame, outcomes),
                   seconds=dict(reporter.seconds))


def write_verdict(verdict: Verdict, output_dir: Path) -> tuple[Path, Path]:
    """``checks.json`` for machines and ``checks.html`` for people."""
    json_path, html_path = output_dir / "checks.json", output_dir / "checks.html"
    write_json(verdict.as_dict() | {"written_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, json_path)
    write_html(verdict.as_dict(), html_path)
    return json_path, html_path
