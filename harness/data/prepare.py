"""``harness prepare``: files -> clean, deduplicated, split data and an account of every row.

read -> clean -> pii -> filter -> defects -> exact dedup -> near dedup ->
conflicting responses -> decontaminate -> split. Each step returns the rows it
kept and the rows it rejected; the end checks, per input file, that rows read
= rows kept + rows rejected, and refuses to write outputs otherwise.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl

import harness
from harness.config import HarnessConfig
from harness.data.clean import clean
from harness.data.decontaminate import decontaminate
from harness.data.dedup.exact import conflicting_responses, exact_duplicates
from harness.data.dedup.near import near_duplicates
from harness.data.defects import find_defects
from harness.data.filters import add_quality_columns, apply_filters, length_stats, validate_patterns
from harness.data.ingest import read_inputs
from harness.data.pii import find_pii
from harness.data.rejects import CLUSTER_SCHEMA, StepResult, count_reasons
from harness.data.schema import text_views
from harness.data.split import SPLITS, assign_splits
from harness.data.tokens import load_token_counter
from harness.io.readers import expand_inputs, file_digest
from harness.io.writers import write_frame, write_json
from harness.progress import Reporter

OUTPUT_FILES = tuple(f"{s}.parquet" for s in SPLITS) + ("rejects.parquet", "clusters.parquet", "stats.json")


class InvariantError(RuntimeError):
    """Rows were lost or duplicated between input and output: a bug, never a data problem."""


@dataclass
class PrepareResult:
    output_dir: Path
    stats: dict
    cached: bool


def input_fingerprint(config: HarnessConfig, base: Path) -> dict:
    """What the result depends on: config, input and benchmark file contents, versions."""
    files = [p for spec in config.data.inputs for p in expand_inputs(spec.path, base)]
    files += [p for pattern in config.decontaminate.files for p in expand_inputs(pattern, base)]
    settings = config.model_dump(mode="json", exclude={"output_dir"})
    return {
        "config": settings,
        "files": {str(p): file_digest(p) for p in files},
        "versions": {"harness": harness.__version__, "polars": version("polars"), "datasketch": version("datasketch")},
    }


def cache_key(fingerprint: dict) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def default_output_dir(config: HarnessConfig) -> Path:
    return Path(config.output_dir) if config.output_dir else Path("reports") / config.project / "data"


def _cached(output_dir: Path, key: str) -> dict | None:
    manifest = output_dir / "run.json"
    if not manifest.is_file() or not all((output_dir / name).is_file() for name in OUTPUT_FILES):
        return None
    if json.loads(manifest.read_text()).get("cache_key") != key:
        return None
    return json.loads((output_dir / "stats.json").read_text())


def _check_row_accounting(rows_read: dict[str, int], kept: pl.DataFrame, rejects: pl.DataFrame) -> dict:
    per_file: dict[str, dict[str, int]] = {}
    kept_counts = dict(kept.group_by("source_file").len().iter_rows())
    rejected_counts = dict(rejects.group_by("source_file").len().iter_rows())
    for name, read in rows_read.items():
        k, r = kept_counts.get(name, 0), rejected_counts.get(name, 0)
        if k + r != read:
            raise InvariantError(f"{name}: read {read} rows but kept {k} and rejected {r}")
        per_file[name] = {"read": read, "kept": k, "rejected": r}
    ids = pl.concat([kept["row_id"], rejects["row_id"]])
    if ids.n_unique() != ids.len():
        raise InvariantError("a row ended in more than one place (kept and rejected, or rejected twice)")
    return per_file


def _flag_counts(frame: pl.DataFrame) -> dict[str, int]:
    flags = frame.select(pl.col("flags").explode().drop_nulls())
    return dict(sorted(flags.group_by("flags").len().iter_rows())) if flags.height else {}


def run_steps(config: HarnessConfig, base: Path, *, strict: bool, reporter: Reporter) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict]:
    """The pipeline itself: (kept rows with split column, rejects, clusters, stats)."""
    kind = config.data.kind
    validate_patterns(config.filters)
    count_tokens = load_token_counter(config.filters.tokenizer) if config.filters.tokenizer else None
    steps: dict[str, dict] = {}
    rejects: list[pl.DataFrame] = []
    clusters: list[pl.DataFrame] = []

    def record(name: str, result: StepResult) -> pl.DataFrame:
        steps[name] = result.stats | {"rows_out": result.kept.height}
        rejects.append(result.rejects)
        clusters.append(result.clusters)
        return result.kept

    with reporter.step("reading inputs") as advance:
        read, rows_read = read_inputs(config.data, base, strict=strict, on_file=lambda _name, n: advance(n))
    steps["read"] = {"rows_read": sum(rows_read.values()), "malformed": count_reasons(read.rejects)}
    rejects.append(read.rejects)
    frame = read.kept.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("flags"))
    with reporter.step("cleaning text"):
        frame = record("clean", clean(frame, kind=kind, config=config.clean))
    with reporter.step("scanning for personal data"):
        frame = record("pii", find_pii(frame, kind=kind, config=config.pii))
    frame = frame.with_columns(*text_views(kind))
    with reporter.step("filtering"):
        frame = add_quality_columns(frame, config.filters, count_tokens)
        lengths = length_stats(frame)
        frame = record("filter", apply_filters(frame, kind=kind, config=config.filters))
    with reporter.step("known defects"):
        frame = record("defects", find_defects(frame, kind=kind, config=config.defects))
    dedup = config.dedup
    if dedup.exact.enabled:
        with reporter.step("exact duplicates"):
            frame = record("exact_dedup", exact_duplicates(frame, fields=dedup.exact.fields, keep=dedup.keep))
    if dedup.near.enabled:
        with reporter.step("near duplicates (MinHash LSH)", total=frame.height) as advance:
            frame = record("near_dedup", near_duplicates(frame, config=dedup.near, keep=dedup.keep, progress=advance))
    frame = record("conflicts", conflicting_responses(frame, policy=dedup.conflicting_responses, keep=dedup.keep))
    with reporter.step("decontamination"):
        frame = record("decontaminate", decontaminate(frame, config=config.decontaminate, base=base))
    all_clusters = pl.concat(clusters).cast(CLUSTER_SCHEMA)
    links = all_clusters.filter(pl.col("action") != "dropped").select("kind", "cluster_id", "row_id")
    stratify = config.split.stratify if config.split.stratify is not None else kind == "classification"
    with reporter.step("splitting"):
        frame = assign_splits(frame, config=config.split, seed=config.seed,
                              stratify_by="label" if stratify and kind == "classification" else None, links=links)
    all_rejects = pl.concat(rejects).sort("row_id")
    per_file = _check_row_accounting(rows_read, frame, all_rejects)
    stats = {
        "project": config.project,
        "kind": kind,
        "rows_read": sum(rows_read.values()),
        "rows_kept": frame.height,
        "rows_rejected": all_rejects.height,
        "per_file": per_file,
        "splits": {s: frame.filter(pl.col("split") == s).height for s in SPLITS},
        "rejects_by_step": dict(sorted(all_rejects.group_by("step").len().iter_rows())),
        "rejects_by_reason": count_reasons(all_rejects),
        "flags": _flag_counts(frame),
        "lengths": lengths,
        "steps": steps,
    }
    return frame, all_rejects, all_clusters.sort("kind", "cluster_id", "row_id"), stats


def _output_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if not c.startswith("_") and c not in ("prompt_text", "response_text", "split")]


def prepare(
    config: HarnessConfig,
    base: Path,
    *,
    output_dir: Path | None = None,
    strict: bool = False,
    use_cache: bool = True,
    reporter: Reporter | None = None,
) -> PrepareResult:
    """Run the pipeline (or reuse an identical earlier run) and write its outputs."""
    reporter = reporter or Reporter(None)
    output_dir = output_dir or default_output_dir(config)
    fingerprint = input_fingerprint(config, base)
    key = cache_key(fingerprint)
    if use_cache and (stats := _cached(output_dir, key)) is not None:
        return PrepareResult(output_dir, stats, cached=True)
    started = time.perf_counter()
    frame, rejects, clusters, stats = run_steps(config, base, strict=strict, reporter=reporter)
    (output_dir / "run.json").unlink(missing_ok=True)
    columns = _output_columns(frame)
    for split in SPLITS:
        write_frame(frame.filter(pl.col("split") == split).select(columns), output_dir / split)
    write_frame(rejects, output_dir / "rejects")
    write_frame(clusters, output_dir / "clusters", jsonl=False)
    write_json(stats, output_dir / "stats.json")
    write_json(
        {
            "cache_key": key,
            "command": "prepare",
            "strict": strict,
            "seconds": round(time.perf_counter() - started, 3),
            "step_seconds": reporter.seconds,
            "python": platform.python_version(),
            **fingerprint,
        },
        output_dir / "run.json",
    )
    return PrepareResult(output_dir, stats, cached=False)
