"""Bias checks on the sensitive attributes the config names, with fairlearn.

Measured on the train split, which is what the model learns from:

* representation: count and share of each group, and the smallest share;
* outcome rate per group (``fairlearn.metrics.MetricFrame`` with
  ``selection_rate``), and the demographic parity difference and ratio of the
  outcome (the label, by default);
* for text, the share of records that mention each group's terms, so a skew in
  what the data talks about shows even without an attribute column.

Each measure becomes a constant column plus a generated expectation, so the bias
checks sit in the same great-expectations result as the suites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    selection_rate,
)

from harness.config import BiasConfig, ConfigError
from harness.data.schema import text_views

MISSING_GROUP = "(missing)"


@dataclass
class BiasFindings:
    """Per-attribute tables for the report, plus the columns and expectations that judge them."""

    report: dict = field(default_factory=dict)
    columns: dict[str, float] = field(default_factory=dict)
    expectations: list[dict] = field(default_factory=list)


def _slug(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_").lower()


def _expect(findings: BiasFindings, column: str, value: float, *, bound: str, limit: float, severity: str,
            description: str) -> None:
    findings.columns[column] = value
    kwargs = {"column": column, "min_value": limit} if bound == "min" else {"column": column, "max_value": limit}
    findings.expectations.append({
        "type": "expect_column_min_to_be_between" if bound == "min" else "expect_column_max_to_be_between",
        "kwargs": kwargs,
        "severity": severity,
        "meta": {"description": description, "suite": "bias (config)"},
    })


def _outcome(train: pl.DataFrame, config: BiasConfig) -> tuple[str, str] | None:
    column = config.outcome or ("label" if "label" in train.columns else None)
    if column is None:
        return None
    if column not in train.columns:
        raise ConfigError(f"bias.outcome: column {column!r} is not in the data (columns: {train.columns})")
    values = train[column].cast(pl.String)
    positive = config.positive_value
    if positive is None:
        counts = values.value_counts().sort(["count", column])
        positive = counts[column][0]
    return column, positive


def _attribute(train: pl.DataFrame, attribute: str, config: BiasConfig, findings: BiasFindings) -> None:
    groups = train[attribute].cast(pl.String).fill_null(MISSING_GROUP)
    shares = groups.value_counts(normalize=True, sort=True).sort("proportion", attribute)
    counts = dict(groups.value_counts().iter_rows())
    entry: dict = {
        "groups": {g: {"count": int(counts[g]), "share": round(float(s), 4)} for g, s in shares.iter_rows()},
        "smallest_group": shares[attribute][0],
    }
    slug = _slug(attribute)
    _expect(findings, f"bias_{slug}_min_group_share", float(shares["proportion"].min()), bound="min",
            limit=config.min_group_share, severity=config.representation_severity,
            description=f"every {attribute} group is at least {config.min_group_share:.0%} of the train split")
    outcome = _outcome(train, config)
    if outcome is not None:
        column, positive = outcome
        y = (train[column].cast(pl.String) == positive).to_numpy().astype(int)
        sensitive = groups.to_numpy()
        frame = MetricFrame(metrics={"count": count, "rate": selection_rate}, y_true=y, y_pred=y,
                            sensitive_features=sensitive)
        difference = float(demographic_parity_difference(y, y, sensitive_features=sensitive))
        ratio = float(demographic_parity_ratio(y, y, sensitive_features=sensitive))
        rates = frame.by_group["rate"]
        entry["outcome"] = {
            "column": column, "positive_value": positive, "overall_rate": round(float(frame.overall["rate"]), 4),
            "rate_by_group": {str(g): round(float(r), 4) for g, r in rates.items()},
            "parity_difference": round(difference, 4), "parity_ratio": round(ratio, 4),
        }
        for group in entry["groups"]:
            entry["groups"][group]["outcome_rate"] = round(float(rates.get(group, np.nan)), 4)
        _expect(findings, f"bias_{slug}_parity_difference", difference, bound="max", limit=config.max_parity_difference,
                severity=config.parity_severity,
                description=f"the rate of {column}={positive} differs by at most {config.max_parity_difference:g} "
                            f"between {attribute} groups (demographic parity difference)")
        _expect(findings, f"bias_{slug}_parity_ratio", ratio, bound="min", limit=config.min_parity_ratio,
                severity=config.parity_severity,
                description=f"the lowest {attribute} group's rate of {column}={positive} is at least "
                            f"{config.min_parity_ratio:g} of the highest (demographic parity ratio)")
    findings.report.setdefault("attributes", {})[attribute] = entry


def _terms(train: pl.DataFrame, kind: str, config: BiasConfig, findings: BiasFindings) -> None:
    prompt, response = text_views(kind)
    text = train.select(pl.concat_str([prompt, response], separator="\n").str.to_lowercase()).to_series()
    for topic, groups in config.terms.items():
        shares = {}
        for group, words in groups.items():
            pattern = r"\b(?:" + "|".join(re.escape(w.lower()) for w in words) + r")\b"
            shares[group] = float(text.str.contains(pattern).mean()) if text.len() else 0.0
        highest = max(shares.values(), default=0.0)
        ratio = min(shares.values()) / highest if highest > 0 else 1.0
        findings.report.setdefault("terms", {})[topic] = {
            "share_mentioning": {g: round(s, 4) for g, s in shares.items()}, "share_ratio": round(ratio, 4)}
        if config.min_term_share_ratio is not None:
            _expect(findings, f"terms_{_slug(topic)}_share_ratio", ratio, bound="min", limit=config.min_term_share_ratio,
                    severity=config.terms_severity,
                    description=f"the least mentioned {topic} group appears in at least "
                                f"{config.min_term_share_ratio:g} as many records as the most mentioned")


def find_bias(frame: pl.DataFrame, *, kind: str, config: BiasConfig) -> BiasFindings:
    findings = BiasFindings()
    train = frame.filter(pl.col("split") == "train")
    missing = [a for a in config.attributes if a not in frame.columns]
    if missing:
        raise ConfigError(
            f"bias.attributes: {missing} not found in the data; columns are {sorted(frame.columns)}"
        )
    for attribute in config.attributes:
        _attribute(train, attribute, config, findings)
    if config.terms:
        _terms(train, kind, config, findings)
    return findings
