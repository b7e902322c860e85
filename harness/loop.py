"""``harness loop``: one iteration (prepare, check and gate, train, evaluate, report) into
``reports/<project>/iter-NNN/``, compared with the previous iteration.

Evaluation is where the next round starts: the report ends in concrete data
requests (``data_requests.jsonl``), and the next iteration's report says, with
paired tests, what the new data changed.
"""

from __future__ import annotations

import json
import platform
import re
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl

import harness
from harness.checks.gate import run_checks, write_verdict
from harness.config import ConfigError, HarnessConfig
from harness.data.prepare import input_fingerprint, prepare
from harness.data.schema import text_views
from harness.data.split import SPLITS
from harness.eval.evaluation import evaluate_models
from harness.io.writers import write_json, write_text
from harness.progress import Reporter
from harness.report.compare import compare, compare_benchmarks
from harness.report.render import categories_plot, group_plot, loss_plot, metric_bars, write_report
from harness.report.targeted import targeted_report
from harness.io.readers import file_digest
from harness.train.recipe import finetune, git_commit

ITERATION = re.compile(r"^iter-(\d{3})$")


@dataclass
class IterationResult:
    folder: Path
    report: dict
    passed_gate: bool


def project_root(config: HarnessConfig) -> Path:
    return Path("reports") / config.project


def iterations(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("iter-*") if ITERATION.match(p.name) and (p / "manifest.json").is_file())


def _configured_for(config: HarnessConfig, folder: Path) -> HarnessConfig:
    """The same config, with every output in this iteration's folder."""
    if config.train is None:
        raise ConfigError("the loop trains: add a train section (train.model at least)")
    return config.model_copy(update={
        "output_dir": str(folder / "data"),
        "checks": config.checks.model_copy(update={"data_dir": str((folder / "data").resolve())}),
        "train": config.train.model_copy(update={"output_dir": str(folder / "train")}),
        "eval": config.eval.model_copy(update={"output_dir": str(folder / "eval"), "adapter": None}),
    })


def _history(root: Path, current: tuple[str, dict]) -> list[tuple[str, dict]]:
    history = []
    for folder in iterations(root):
        path = folder / "eval" / "eval.json"
        if path.is_file() and folder.name != current[0]:
            evaluation = json.loads(path.read_text())
            model = "tuned" if "tuned" in evaluation["models"] else "base"
            history.append((folder.name, evaluation["models"][model]))
    return history + [current]


def run_iteration(config: HarnessConfig, base: Path, *, force: bool = False, root: Path | None = None,
                  reporter: Reporter | None = None) -> IterationResult:
    reporter = reporter or Reporter(None)
    root = root or project_root(config)
    previous = iterations(root)
    # Numbered after every iteration folder, finished or not: a crashed one is kept for inspection.
    started = [int(m.group(1)) for p in root.glob("iter-*") if (m := ITERATION.match(p.name))]
    folder = root / f"iter-{max(started, default=0) + 1:03d}"
    settings = _configured_for(config, folder)
    folder.mkdir(parents=True)
    seconds: dict[str, float] = {}

    def timed(name, step):
        started = time.perf_counter()
        result = step()
        seconds[name] = round(time.perf_counter() - started, 2)
        return result

    prepared = timed("prepare", lambda: prepare(settings, base, output_dir=folder / "data", use_cache=False,
                                                reporter=reporter))
    verdict = timed("check", lambda: run_checks(settings, base, force=force, reporter=reporter))
    write_verdict(verdict, folder / "checks")
    manifest = {
        "iteration": folder.name, "project": config.project, "config": config.model_dump(mode="json"),
        "inputs": input_fingerprint(config, base)["files"],
        "splits": {s: file_digest(folder / "data" / f"{s}.parquet") for s in SPLITS},
        "seed": config.seed, "gate": {"passed": verdict.passed, "forced": verdict.forced},
        "versions": {n: version(n) for n in ("torch", "transformers", "peft", "polars", "datasketch")}
        | {"harness": harness.__version__, "python": platform.python_version()},
        "git_commit": git_commit(), "seconds": seconds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    report = {"project": config.project, "iteration": folder.name, "gate": manifest["gate"],
              "data": {"rows_read": prepared.stats["rows_read"], "rows_kept": prepared.stats["rows_kept"]}}
    if not verdict.passed and not force:
        report["targeted"] = {"failures": 0, "evaluated": 0, "categories": [], "slices": [], "topics": [], "requests": []}
        write_report(report, {}, folder)
        write_json(manifest, folder / "manifest.json")
        return IterationResult(folder, report, passed_gate=False)
    timed("train", lambda: finetune(settings, base, force=force, reporter=reporter, verdict=verdict))
    evaluation = timed("eval", lambda: evaluate_models(settings, base, reporter=reporter))
    attributes = config.eval.group_attributes if config.eval.group_attributes is not None else config.bias.attributes
    train = pl.read_parquet(folder / "data" / "train.parquet").with_columns(*text_views(config.data.kind))
    targeted = targeted_report(evaluation.predictions, train, attributes=attributes, seed=config.seed)
    report |= {"eval": evaluation.report, "targeted": targeted}
    if previous:
        before = pl.read_parquet(previous[-1] / "eval" / "predictions.parquet")
        report["comparison"] = compare(before, evaluation.predictions, resamples=config.eval.bootstrap_resamples,
                                       seed=config.seed) | {"previous": previous[-1].name}
        earlier = json.loads((previous[-1] / "eval" / "eval.json").read_text()).get("benchmarks", {})
        benchmarks = compare_benchmarks(earlier, evaluation.report.get("benchmarks", {}),
                                        resamples=config.eval.bootstrap_resamples, seed=config.seed)
        report["comparison"]["benchmarks"] = benchmarks
        report["comparison"]["regressions"] += [f"benchmark {t}" for t, v in benchmarks.items() if v["status"] == "regressed"]
    log = [json.loads(line) for line in (folder / "train" / "train_log.jsonl").read_text().splitlines() if line]
    model = "tuned" if "tuned" in evaluation.report["models"] else "base"
    plots = {name: svg for name, svg in {
        "loss curves": loss_plot(log),
        "metrics, base vs tuned (95% intervals)": metric_bars(evaluation.report),
        "error categories across iterations": categories_plot(
            _history(root, (folder.name, evaluation.report["models"][model]))),
        "token F1 per group": group_plot(evaluation.report["groups"].get(model, {})),
    }.items() if svg}
    write_text("".join(json.dumps(line) + "\n" for line in targeted["data_requests"]), folder / "data_requests.jsonl")
    write_report(report, plots, folder)
    manifest["seconds"] = seconds
    write_json(manifest, folder / "manifest.json")
    return IterationResult(folder, report, passed_gate=True)
