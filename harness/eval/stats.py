"""Confidence intervals and metrics per group.

Every reported number carries a percentile bootstrap interval over the test
examples (resampled with replacement, seeded). Per-group values use
fairlearn's ``MetricFrame``: any per-example score becomes a metric, with the
difference and ratio between the best and worst group.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fairlearn.metrics import MetricFrame


def bootstrap_interval(
    n: int, statistic: Callable[[np.ndarray], float], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over resampled example indices."""
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)])
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def mean_with_interval(scores: np.ndarray, *, resamples: int, seed: int) -> dict[str, float]:
    low, high = bootstrap_interval(len(scores), lambda idx: float(np.mean(scores[idx])), resamples=resamples, seed=seed)
    return {"value": float(np.mean(scores)) if len(scores) else float("nan"), "ci_low": low, "ci_high": high}


def by_group(scores: dict[str, np.ndarray], groups: np.ndarray) -> dict:
    """Each per-example score averaged per group, with difference and ratio (fairlearn MetricFrame)."""
    metrics = {name: (lambda y_true, y_pred: float(np.mean(y_true))) for name in scores}
    frames = {name: MetricFrame(metrics={name: metrics[name]}, y_true=values, y_pred=values,
                                sensitive_features=groups) for name, values in scores.items()}
    result = {}
    for name, frame in frames.items():
        per_group = frame.by_group[name]
        result[name] = {
            "by_group": {str(g): float(v) for g, v in per_group.items()},
            "counts": {str(g): int(c) for g, c in zip(*np.unique(groups, return_counts=True), strict=True)},
            "difference": float(frame.difference()[name]),
            "ratio": float(frame.ratio()[name]),
            "worst_group": str(per_group.idxmin()),
        }
    return result
