"""The full ``harness check`` of generated instruction records, in bounded memory.

    python benchmarks/check_bench.py [--records 1000000]

Writes prepared splits of generated instruction rows (with a sensitive attribute),
then runs every check (suites + bias) in a fresh process and reports wall time,
peak RSS, and how the time splits between the polars pre-computation and
great-expectations itself. The same-run baseline is reading the splits alone:
the ratio says how many reads of the data a full check costs.
Goal: under 3 minutes and 4 GiB for 1,000,000 records on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.data.split import SPLITS  # noqa: E402

GOAL_SECONDS, GOAL_GIB = 180, 4.0


def write_data(directory: Path, records: int, tokenizer: str | None) -> Path:
    """Prepared splits (70/15/15) of varied instruction rows."""
    i = pl.int_range(0, records, eager=True).alias("row_id")
    frame = pl.DataFrame(i).with_columns(
        pl.lit("bench.jsonl").alias("source_file"),
        (pl.col("row_id") + 1).alias("source_line"),
        pl.format("Describe item number {} from the {} catalogue and say what it is used for.",
                  pl.col("row_id"), pl.col("row_id") % 97).alias("instruction"),
        pl.lit("").alias("input"),
        pl.format("Item {} is a sturdy wooden box in shade {} with a brass hinge; people keep letters, "
                  "photographs and small tools in it, and it lasts for decades.", pl.col("row_id"),
                  pl.col("row_id") % 13).alias("output"),
        pl.lit([], dtype=pl.List(pl.String)).alias("flags"),
        pl.when(pl.col("row_id") % 10 < 4).then(pl.lit("north")).when(pl.col("row_id") % 10 < 7)
        .then(pl.lit("south")).otherwise(pl.lit("east")).alias("region"),
    )
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    cut1, cut2 = int(records * 0.7), int(records * 0.85)
    bounds = {"train": (0, cut1), "validation": (cut1, cut2), "test": (cut2, records)}
    for split in SPLITS:
        lo, hi = bounds[split]
        frame.slice(lo, hi - lo).write_parquet(data / f"{split}.parquet")
    config = {"project": "bench", "data": {"kind": "instruction", "inputs": ["unused.jsonl"]},
              "checks": {"data_dir": "data", "tokenizer": tokenizer}, "bias": {"attributes": ["region"]}}
    (directory / "harness.yaml").write_text(json.dumps(config))
    return data


def _check(directory: str, queue: mp.Queue) -> None:
    from harness.checks.gate import run_checks
    from harness.config import load_config

    config, base = load_config(Path(directory) / "harness.yaml")
    start = time.perf_counter()
    for split in SPLITS:
        pl.read_parquet(Path(directory) / "data" / f"{split}.parquet")
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    verdict = run_checks(config, base)
    queue.put({
        "seconds": time.perf_counter() - start,
        "read_seconds": read_seconds,
        "steps": verdict.seconds,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "checks": len(verdict.outcomes),
        "passed": verdict.passed,
        "rows": verdict.rows,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tokenizer", help="count tokens with this tokenizer (default: characters / 4), "
                        "e.g. ../shared/models/stories260K-hf")
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "bench" / "check_bench.json")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_data(Path(tmp), opts.records, opts.tokenizer and str(Path(opts.tokenizer).resolve()))
        context = mp.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=_check, args=(tmp, queue))
        process.start()
        result = queue.get()
        process.join()
    steps = result["steps"]
    polars_seconds = steps.get("loading prepared data", 0) + steps.get("computing check columns (polars)", 0)
    gx_seconds = steps.get("validating (great-expectations)", 0) + steps.get("loading suites (great-expectations)", 0)
    print(f"{result['rows']:,} records, {result['checks']} checks, gate {'PASS' if result['passed'] else 'FAIL'}, "
          f"tokens: {opts.tokenizer or 'characters / 4'}")
    print(f"wall time {result['seconds']:.1f} s (polars pre-computation {polars_seconds:.1f} s, "
          f"great-expectations {gx_seconds:.1f} s); peak RSS {result['peak_rss_gib']:.2f} GiB")
    print(f"baseline, reading the splits alone: {result['read_seconds']:.2f} s; "
          f"full check / read = {result['seconds'] / max(result['read_seconds'], 1e-9):.0f}x")
    met = result["seconds"] < GOAL_SECONDS and result["peak_rss_gib"] < GOAL_GIB
    print(f"goal (< {GOAL_SECONDS} s and < {GOAL_GIB} GiB): {'met' if met else 'NOT met'}")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(result | {"polars_seconds": polars_seconds, "gx_seconds": gx_seconds}, indent=2) + "\n")
    print(f"wrote {opts.json}")


if __name__ == "__main__":
    main()
