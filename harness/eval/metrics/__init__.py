"""Metrics as local ``evaluate`` modules: ``load_metric("harness_rouge")`` works offline."""

from __future__ import annotations

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).resolve().parent
NAMES = tuple(sorted(p.name for p in METRICS_DIR.iterdir() if p.is_dir() and p.name.startswith("harness_")))


def load_metric(name: str) -> evaluate.EvaluationModule:
    """Load a harness metric by name (``rouge`` or ``harness_rouge``) from its local folder."""
    folder = name if name.startswith("harness_") else f"harness_{name}"
    if folder not in NAMES:
        raise ValueError(f"unknown metric {name!r}; harness ships {[n.removeprefix('harness_') for n in NAMES]}")
    return evaluate.load(str(METRICS_DIR / folder))
