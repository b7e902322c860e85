"""great-expectations suites kept as JSON files, run with an ephemeral context.

A suite is plain great-expectations 1.x JSON: ``name`` and ``expectations``,
each with ``type``, ``kwargs``, ``severity`` (critical blocks training, warning
is reported) and ``meta.description`` in plain words. Thresholds come from the
YAML config as ``{"$PARAMETER": "max_seq_len"}``. Suites are looked up by name
in the project's own ``suites/`` folder (next to the config) first, then among
the suites harness ships; a path works too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

SEVERITIES = ("critical", "warning", "info")
EXAMPLES = 5


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the expectation."""


@dataclass
class CheckOutcome:
    """One expectation's verdict, in the terms the gate and the report use."""

    suite: str
    expectation: str
    column: str | None
    description: str
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    example_row_ids: list[int] = field(default_factory=list)
    error: str | None = None

    def observed_text(self) -> str:
        """What was seen, for people: the value, or how many rows broke the rule."""
        if self.error:
            return f"error: {self.error}"
        if self.unexpected_count is not None:
            rows = "row" if self.unexpected_count == 1 else "rows"
            return f"{self.unexpected_count} {rows} ({self.unexpected_percent or 0:.2f}%)"
        if isinstance(self.observed, float):
            return f"{self.observed:.4g}"
        return "" if self.observed is None else str(self.observed)


def builtin_suites_dir() -> Path:
    """The suites harness ships: ``suites/`` of a source checkout, else the installed package's copy."""
    checkout = Path(__file__).resolve().parents[2] / "suites"
    if checkout.is_dir():
        return checkout
    return Path(str(files("harness.suites")))


def suite_path(name: str, base: Path) -> Path:
    candidate = Path(name) if name.endswith(".json") else None
    if candidate is not None:
        path = candidate if candidate.is_absolute() else base / candidate
        if path.is_file():
            return path
        raise SuiteError(f"{name}: suite file not found (looked for {path})")
    for folder in (base / "suites", builtin_suites_dir()):
        path = folder / f"{name}.json"
        if path.is_file():
            return path
    known = sorted(p.stem for p in available_suites(base))
    raise SuiteError(f"suite {name!r} not found in {base / 'suites'} or the built-in suites; known: {known}")


def available_suites(base: Path | None = None) -> list[Path]:
    folders = ([base / "suites"] if base is not None else []) + [builtin_suites_dir()]
    seen: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            seen.setdefault(path.stem, path)
    return list(seen.values())


def read_suite(path: Path) -> dict:
    """The suite's JSON, checked expectation by expectation with great-expectations itself."""
    from great_expectations.core import ExpectationSuite

    _quiet_great_expectations()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise SuiteError(f"{path}: a suite is an object with a list of 'expectations'")
    for index, expectation in enumerate(raw["expectations"]):
        label = f"{path}: expectation #{index + 1} ({expectation.get('type', '?') if isinstance(expectation, dict) else '?'})"
        if not isinstance(expectation, dict):
            raise SuiteError(f"{label}: must be an object")
        if expectation.get("severity", "critical") not in SEVERITIES:
            raise SuiteError(f"{label}: severity must be one of {SEVERITIES}, got {expectation['severity']!r}")
        try:
            probe = ExpectationSuite(name="probe", expectations=[expectation])
        except Exception as exc:  # great-expectations raises several unrelated types here
            raise SuiteError(f"{label}: {_first_line(exc)}") from None
        if not probe.expectations:  # an unknown type is logged and dropped, not raised
            raise SuiteError(f"{label}: Could not add expectation: unknown expectation type")
    raw.setdefault("name", path.stem)
    return raw


def _quiet_great_expectations() -> None:
    """Its log lines would repeat, less clearly, what our errors and results already say.

    Some of its loggers set their own level, so each is silenced; and its validator
    turns on ``logging.captureWarnings``, which would route every later library
    warning to the terminal, so that is turned back off after each validation.
    """
    for name in [n for n in logging.Logger.manager.loggerDict if n.startswith("great_expectations")] + ["great_expectations"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    if "extra fields not permitted" in text or "field required" in text:
        lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        pairs = [f"{lines[i]} ({lines[i + 1].split(' (type=')[0]})" for i in range(0, len(lines) - 1, 2)]
        return "invalid arguments: " + "; ".join(pairs)
    return text.splitlines()[-1] if text else type(exc).__name__


def parameters_used(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {value["$PARAMETER"]}
        return set().union(*(parameters_used(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(parameters_used(v) for v in value)) if value else set()
    return set()


def describe(expectation: dict) -> str:
    """Plain words for one expectation: its own description, else its type and arguments."""
    description = expectation.get("meta", {}).get("description")
    if description:
        return description
    words = expectation["type"].removeprefix("expect_").replace("_", " ")
    args = ", ".join(
        f"{k}={v['$PARAMETER'] if isinstance(v, dict) and '$PARAMETER' in v else v}"
        for k, v in expectation.get("kwargs", {}).items()
    )
    return f"{words} ({args})"


def referenced_columns(expectations: list[dict]) -> set[str]:
    columns: set[str] = set()
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                columns.add(kwargs[key])
        for key in ("column_list",):
            if isinstance(kwargs.get(key), list):
                columns.update(kwargs[key])
    return columns


def _observed(result: dict) -> Any:
    value = result.get("observed_value")
    if hasattr(value, "item"):
        return value.item()
    return value


def run_expectations(frame: pd.DataFrame, expectations: list[dict], parameters: dict) -> list[CheckOutcome]:
    """Validate all expectations in one great-expectations run on an ephemeral context."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    missing = sorted(set().union(*(parameters_used(e["kwargs"]) for e in expectations)) - set(parameters)) if expectations else []
    if missing:
        where = [e["meta"].get("suite", "?") for e in expectations if parameters_used(e["kwargs"]) & set(missing)]
        raise SuiteError(f"suite(s) {sorted(set(where))} use unknown $PARAMETER {missing}; known: {sorted(parameters)}")
    _quiet_great_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("harness")
        .add_dataframe_asset("prepared")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    # great-expectations does not return results in suite order: each carries its index in meta.
    tagged = [e | {"meta": e.get("meta", {}) | {"harness_index": i}} for i, e in enumerate(expectations)]
    suite = ExpectationSuite(name="harness-checks", expectations=tagged)
    result = batch.validate(
        suite,
        expectation_parameters=parameters,
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["row_id"],
                       "partial_unexpected_count": EXAMPLES},
    )
    logging.captureWarnings(False)
    outcomes = []
    for item in sorted(result.results, key=lambda r: r.expectation_config.meta["harness_index"]):
        source = expectations[item.expectation_config.meta["harness_index"]]
        details = item.result or {}
        error = item.exception_info.get("exception_message") if item.exception_info.get("raised_exception") else None
        indices = details.get("partial_unexpected_index_list") or []
        outcomes.append(CheckOutcome(
            suite=source["meta"].get("suite", ""),
            expectation=source["type"],
            column=source.get("kwargs", {}).get("column"),
            description=describe(source),
            severity=str(getattr(item.expectation_config.severity, "value", item.expectation_config.severity)),
            success=bool(item.success),
            observed=_observed(details),
            unexpected_count=details.get("unexpected_count"),
            unexpected_percent=round(details["unexpected_percent"], 4) if details.get("unexpected_percent") is not None else None,
            example_row_ids=[int(i["row_id"]) for i in indices[:EXAMPLES] if isinstance(i, dict) and "row_id" in i],
            error=error,
        ))
    return outcomes
