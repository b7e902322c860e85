"""``harness runs list`` and ``harness runs compare A B``: the iterations of a project, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from harness.report.compare import compare


def list_runs(root: Path) -> list[dict]:
    from harness.loop import iterations

    rows = []
    for folder in iterations(root):
        manifest = json.loads((folder / "manifest.json").read_text())
        row = {"iteration": folder.name, "started": manifest["started"], "gate": manifest["gate"],
               "seconds": sum(manifest["seconds"].values())}
        evaluation = folder / "eval" / "eval.json"
        if evaluation.is_file():
            models = json.loads(evaluation.read_text())["models"]
            tuned = models.get("tuned", models["base"])
            row["token_f1"] = tuned["metrics"]["token_f1"]["value"]
            row["failures"] = sum(c["count"] for c in tuned["categories"].values())
        rows.append(row)
    return rows


def compare_runs(root: Path, a: str, b: str, *, resamples: int = 1000, seed: int = 0) -> dict:
    paths = [root / name / "eval" / "predictions.parquet" for name in (a, b)]
    for path in paths:
        if not path.is_file():
            from harness.config import ConfigError

            raise ConfigError(f"{path.parent.parent.name}: no evaluation in {path.parent} (known: "
                              f"{[r['iteration'] for r in list_runs(root)]})")
    return compare(pl.read_parquet(paths[0]), pl.read_parquet(paths[1]), resamples=resamples, seed=seed)
