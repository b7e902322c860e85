"""The ``harness`` command: parse, call, print. No pipeline logic lives here.

Exit codes: 0 success, 1 the job ran and found a blocking problem, 2 a usage
error (bad config, missing or unreadable input) reported as one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness.checks.gate import EXIT_USAGE, Verdict, data_dir_for, run_checks, write_verdict
from harness.checks.suites import SuiteError, available_suites, describe, read_suite, suite_path
from harness.config import ConfigError, load_config
from harness.data.dedup.lsh import LshParameterError
from harness.data.prepare import InvariantError, PrepareResult, prepare
from harness.data.tokens import TokenizerError
from harness.examples import write_example
from harness.io.readers import DataError
from harness.progress import Reporter

app = typer.Typer(
    help="harness: check your fine-tuning data before you spend GPU hours on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
USER_ERRORS = (ConfigError, DataError, LshParameterError, TokenizerError, SuiteError)
suites_app = typer.Typer(help="List and explain the validation suites.", no_args_is_help=True)
app.add_typer(suites_app, name="suites")


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_summary(result: PrepareResult) -> None:
    """A few lines a person reads; stats.json beside the data has everything."""
    stats = result.stats
    where = result.output_dir
    if result.cached:
        console.print(f"[dim]inputs and config unchanged: reused {where} (use --no-cache to recompute)[/]")
    console.print(
        f"[bold]{stats['rows_read']}[/] rows read, [bold green]{stats['rows_kept']}[/] kept, "
        f"[bold yellow]{stats['rows_rejected']}[/] rejected"
    )
    splits = stats["splits"]
    console.print("splits: " + ", ".join(f"{name} {count}" for name, count in splits.items()))
    if stats["rejects_by_reason"]:
        table = Table("rejected because", "rows", box=None, pad_edge=False)
        for reason, count in sorted(stats["rejects_by_reason"].items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(count))
        console.print(table)
    steps = stats["steps"]
    changed = {k: v for k, v in steps.get("clean", {}).get("rows_changed", {}).items() if v}
    if changed:
        console.print("repaired in place: " + ", ".join(f"{k} {v}" for k, v in changed.items()))
    pii = steps.get("pii", {}).get("found", {})
    if pii:
        console.print("personal data found: " + ", ".join(f"{k} {v}" for k, v in pii.items()))
    if "near_dedup" in steps:
        lsh = steps["near_dedup"]["lsh"]
        console.print(
            f"near duplicates: Jaccard >= {lsh['threshold']} ({lsh['bands']} bands x {lsh['rows']} rows, "
            f"candidates from ~{lsh['effective_threshold']:.2f}), {steps['near_dedup']['clusters']} clusters"
        )
    conflicts = steps.get("conflicts", {})
    if conflicts.get("groups"):
        console.print(
            f"[yellow]same prompt, different answers:[/] {conflicts['groups']} groups, "
            f"{conflicts['rows']} rows (policy {conflicts['policy']})"
        )
    console.print(f"outputs: {where}/ (train/validation/test .parquet+.jsonl, rejects, clusters, stats.json)")


@app.command("prepare")
def prepare_command(
    config: Annotated[Path, typer.Argument(help="YAML config file")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="output folder (default: from config)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="stop at the first malformed row instead of rejecting it")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="recompute even if inputs and config are unchanged")] = False,
) -> None:
    """Read, clean, deduplicate and split the data; every dropped row goes to rejects with its reason."""
    _run_prepare(config, output=output, strict=strict, use_cache=not no_cache)


def _run_prepare(config: Path, *, output: Path | None, strict: bool, use_cache: bool) -> None:
    try:
        settings, base = load_config(config)
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            result = prepare(settings, base, output_dir=output, strict=strict, use_cache=use_cache, reporter=reporter)
    except USER_ERRORS as exc:
        _fail(str(exc))
    except InvariantError as exc:
        _fail(f"internal error, please report it: {exc}", code=1)
    print_summary(result)


@app.command("example")
def example_command(
    directory: Annotated[Path, typer.Argument(help="folder to write the example data and config into")],
) -> None:
    """Write the built-in example data set (with planted defects), a tiny model and the config."""
    config_path = write_example(directory, with_model=True)
    console.print(f"wrote {config_path}, {directory / 'data'}/ and a tiny model in {directory / 'model'}/; "
                  f"planted rows are listed in {directory / 'planted.json'}")
    console.print(f"next: harness prepare {config_path}  |  harness check {config_path}  |  harness loop {config_path}")


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Option("--dir", help="where the demo writes everything (emptied first)")] = Path("reports/demo"),
) -> None:
    """The whole loop twice on the built-in example: the second iteration adds the data the first report asked for."""
    import shutil

    from harness.examples import supply_requested_data
    from harness.loop import run_iteration

    if directory.exists():
        shutil.rmtree(directory)
    config_path = write_example(directory / "example", with_model=True)
    console.print(f"[bold]harness demo[/]: example data with planted defects and a tiny model in {directory / 'example'}")
    settings, base = load_config(config_path)
    for round_number in (1, 2):
        console.rule(f"iteration {round_number}")
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            result = run_iteration(settings, base, root=directory, reporter=reporter)
        if round_number == 1:
            stats = json.loads((result.folder / "data" / "stats.json").read_text())
            console.print(f"data: {stats['rows_read']} rows read, {stats['rows_kept']} kept, {stats['rows_rejected']} "
                          f"rejected ({len(stats['rejects_by_reason'])} reasons; see {result.folder / 'data'})")
        print_iteration(result)
        if not result.passed_gate:
            raise typer.Exit(1)
        if round_number == 1:
            added = supply_requested_data(result.report, directory / "example")
            console.print("[bold]adding the requested data[/]: " + (", ".join(
                f"{n} rows for {request}" for request, n in added.items()) or "nothing the generator can make"))


def print_verdict(verdict: Verdict, written: tuple[Path, Path]) -> None:
    failures = verdict.failures()
    if failures:
        table = Table("severity", "check", "observed", "examples (row: source)", box=None, pad_edge=False)
        for outcome in sorted(failures, key=lambda o: o.severity != "critical"):
            examples = "; ".join(
                f"{i}: {verdict.examples[i]['source_file']}:{verdict.examples[i]['source_line']}"
                for i in outcome.example_row_ids[:3] if i in verdict.examples
            )
            style = "red" if outcome.severity == "critical" else "yellow"
            table.add_row(f"[{style}]{outcome.severity}[/]", outcome.description, outcome.observed_text(), examples)
        console.print(table)
    for attribute, entry in verdict.bias.get("attributes", {}).items():
        smallest = entry["smallest_group"]
        line = f"{attribute}: {len(entry['groups'])} groups, smallest {smallest!r} ({entry['groups'][smallest]['share']:.1%})"
        if "outcome" in entry:
            line += f", parity difference {entry['outcome']['parity_difference']:.3f}"
        console.print(line, highlight=False)
    passed = len(verdict.outcomes) - len(failures)
    console.print(f"{passed}/{len(verdict.outcomes)} checks pass on {verdict.rows} rows; "
                  f"{len(verdict.failures('critical'))} critical, {len(verdict.failures('warning'))} warning")
    if verdict.passed:
        console.print("[bold green]gate: PASS[/] training may start")
    elif verdict.forced:
        console.print("[bold yellow]gate: FAIL, overridden by --force[/] (recorded in checks.json)")
    else:
        console.print("[bold red]gate: FAIL[/] training is blocked (fix the data, or --force to override, recorded)")
    console.print(f"wrote {written[0]} and {written[1]}")


@app.command("check")
def check_command(
    config: Annotated[Path, typer.Argument(help="YAML config file")],
    data: Annotated[Path | None, typer.Option("--data", help="prepared data folder (default: from config)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="where checks.json/html go (default: next to the data)")] = None,
    force: Annotated[bool, typer.Option("--force", help="let a failing gate pass; the override is recorded")] = False,
) -> None:
    """Validate the prepared data with the suites and bias checks. Exit 0 pass, 1 fail, 2 usage error."""
    try:
        settings, base = load_config(config)
        data_dir = data or data_dir_for(settings, base)
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            verdict = run_checks(settings, base, data_dir=data_dir, force=force, reporter=reporter)
    except USER_ERRORS as exc:
        _fail(str(exc))
    written = write_verdict(verdict, output or data_dir.parent / "checks")
    print_verdict(verdict, written)
    raise typer.Exit(verdict.exit_code)


def _number(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


@app.command("train")
def train_command(
    config: Annotated[Path, typer.Argument(help="YAML config file with a train section")],
    force: Annotated[bool, typer.Option("--force", help="train even if critical checks fail; recorded in the manifest")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the last checkpoint")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="run folder (default: from config)")] = None,
) -> None:
    """Fine-tune (LoRA by default) on the prepared train split; runs the check gate first."""
    from harness.train.recipe import GateBlocked, finetune

    try:
        settings, base = load_config(config)
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            result = finetune(settings, base, force=force, resume=resume, output_dir=output, reporter=reporter)
    except GateBlocked as blocked:
        print_verdict(blocked.verdict, (Path("-"), Path("-")))
        _fail("training blocked by the data checks; fix the data or pass --force (recorded)", code=1)
    except USER_ERRORS as exc:
        _fail(str(exc))
    manifest = result.manifest
    metrics = manifest["metrics"]
    if manifest["gate"]["forced"]:
        console.print("[bold yellow]trained on data that FAILED its critical checks (--force, recorded)[/]")
    console.print(f"{manifest['method']}: {metrics['steps']} steps, {manifest['trainable_parameters']:,} trainable "
                  f"parameters, train loss {_number(metrics['train_loss_first'])} -> {_number(metrics['train_loss_last'])}")
    if metrics.get("best_eval_loss") is not None:
        console.print(f"best validation loss {_number(metrics['best_eval_loss'])}; validation - train loss "
                      f"{_number(metrics.get('generalisation_gap'), '+.4f')} (large and growing: overfitting)"
                      + (" (stopped early)" if metrics["stopped_early"] else ""))
    encoding = manifest["encoding"]["train"]
    if encoding["truncated"] or encoding["dropped_no_response_tokens"]:
        console.print(f"[yellow]{encoding['truncated']} examples truncated, {encoding['dropped_no_response_tokens']} "
                      "dropped (no response token left)[/]")
    if manifest["forgetting"]:
        f = manifest["forgetting"]
        console.print(f"forgetting check: reference perplexity {f['perplexity_before']:.2f} -> {f['perplexity_after']:.2f}")
    console.print(f"saved {manifest['saved']}; log and manifest in {result.output_dir}")


@app.command("eval")
def eval_command(
    config: Annotated[Path, typer.Argument(help="YAML config file with a train section (the base model)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="run folder (default: from config)")] = None,
) -> None:
    """Evaluate the base and the fine-tuned model side by side on the test split."""
    from harness.eval.evaluation import evaluate_models

    try:
        settings, base = load_config(config)
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            result = evaluate_models(settings, base, output_dir=output, reporter=reporter)
    except USER_ERRORS as exc:
        _fail(str(exc))
    report = result.report
    names = list(report["models"])
    table = Table("metric", *names, box=None, pad_edge=False)
    first = report["models"][names[0]]["metrics"]
    for metric in first:
        if "value" not in first[metric]:
            continue
        cells = []
        for name in names:
            m = report["models"][name]["metrics"][metric]
            cells.append(f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]")
        table.add_row(metric, *cells)
    console.print(table)
    categories = Table("error category", *names, box=None, pad_edge=False)
    for category in report["models"][names[0]]["categories"]:
        counts = [report["models"][n]["categories"][category]["count"] for n in names]
        if any(counts):
            categories.add_row(category, *(f"{c} ({report['models'][n]['categories'][category]['value']:.0%})"
                                           for c, n in zip(counts, names, strict=True)))
    console.print(categories)
    for violation in report["group_violations"]:
        console.print(f"[yellow]{violation['model']}: {violation['score']} differs by {violation['difference']:.3f} "
                      f"across {violation['attribute']} (worst: {violation['worst_group']})[/]", highlight=False)
    if "tuned" not in report["models"]:
        console.print("[dim]no fine-tuned model found: evaluated the base model only (run harness train first)[/]")
    console.print(f"{report['models'][names[0]]['examples']} examples; wrote {result.output_dir}/eval.json and "
                  "predictions.parquet")


runs_app = typer.Typer(help="The iterations of a project.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def print_iteration(result) -> None:
    report = result.report
    comparison = report.get("comparison")
    if comparison and comparison["regressions"]:
        console.print(f"[bold red]regressed since {comparison['previous']}:[/] " + ", ".join(comparison["regressions"]))
    if not result.passed_gate:
        console.print("[bold red]gate: FAIL[/] the iteration stopped before training (see checks/)")
        return
    if comparison:
        for name, item in {**comparison["scores"], **{f"benchmark {t}": v for t, v in comparison.get("benchmarks", {}).items()},
                           **comparison["categories"]}.items():
            if item["status"] != "unchanged":
                console.print(f"  {name}: {item['before']:.3g} -> {item['now']:.3g} ({item['status']})", highlight=False)
        flips = comparison["flips"]
        console.print(f"  wrong -> right: {len(flips['wrong_to_right'])}, right -> wrong: {len(flips['right_to_wrong'])}")
    targeted = report["targeted"]
    console.print(f"{targeted['failures']} of {targeted['evaluated']} test answers fail; "
                  f"{len(targeted['requests'])} data requests ({targeted['total_examples_requested']} examples):")
    for request in targeted["requests"][:5]:
        console.print(f"  {request['id']}: add ~{request['add_examples']} — {request['why']}", highlight=False)
    console.print(f"report: {result.folder}/report.html (and .md, .json), data_requests.jsonl")


@app.command("loop")
def loop_command(
    config: Annotated[Path, typer.Argument(help="YAML config file with a train section")],
    force: Annotated[bool, typer.Option("--force", help="go on past a failing gate; recorded")] = False,
    root: Annotated[Path | None, typer.Option("--root", help="where iterations go (default: reports/<project>)")] = None,
) -> None:
    """One iteration: prepare, check and gate, train, evaluate, report; compared with the previous one."""
    from harness.loop import run_iteration

    try:
        settings, base = load_config(config)
        with Reporter(console if sys.stdout.isatty() else None) as reporter:
            result = run_iteration(settings, base, force=force, root=root, reporter=reporter)
    except USER_ERRORS as exc:
        _fail(str(exc))
    console.print(f"[bold]{result.folder.name}[/] of {settings.project}")
    print_iteration(result)
    raise typer.Exit(0 if result.passed_gate else 1)


ROOT_OPTION = typer.Option("--root", help="where the iterations are (default: reports/<project>)")


@runs_app.command("list")
def runs_list(
    config: Annotated[Path, typer.Argument(help="YAML config file")],
    root: Annotated[Path | None, ROOT_OPTION] = None,
) -> None:
    """Every iteration with its gate, headline score and failure count."""
    from harness.loop import project_root
    from harness.runs import list_runs

    try:
        settings, _ = load_config(config)
    except USER_ERRORS as exc:
        _fail(str(exc))
    table = Table("iteration", "started", "gate", "token F1", "failing answers", "seconds", box=None, pad_edge=False)
    for row in list_runs(root or project_root(settings)):
        gate = "pass" if row["gate"]["passed"] else ("forced" if row["gate"]["forced"] else "FAIL")
        table.add_row(row["iteration"], row["started"], gate, _number(row.get("token_f1"), ".3f"),
                      str(row.get("failures", "")), f"{row['seconds']:.0f}")
    console.print(table)


@runs_app.command("compare")
def runs_compare(
    config: Annotated[Path, typer.Argument(help="YAML config file")],
    first: Annotated[str, typer.Argument(help="earlier iteration, e.g. iter-001")],
    second: Annotated[str, typer.Argument(help="later iteration, e.g. iter-002")],
    root: Annotated[Path | None, ROOT_OPTION] = None,
) -> None:
    """Paired comparison of two iterations' test results."""
    from harness.loop import project_root
    from harness.runs import compare_runs

    try:
        settings, _ = load_config(config)
        result = compare_runs(root or project_root(settings), first, second, seed=settings.seed)
    except USER_ERRORS as exc:
        _fail(str(exc))
    table = Table("item", first, second, "status", box=None, pad_edge=False)
    for name, item in {**result["scores"], **result["categories"]}.items():
        if isinstance(item["before"], float) or item["before"] or item["now"]:
            table.add_row(name, f"{item['before']:.3g}", f"{item['now']:.3g}", item["status"])
    console.print(table)
    console.print(f"{result['paired_examples']} paired test examples; regressions: {result['regressions'] or 'none'}")


def _config_base(config: Path | None) -> Path | None:
    return load_config(config)[1] if config is not None else None


@suites_app.command("list")
def suites_list(
    config: Annotated[Path | None, typer.Option("--config", help="also list the project's own suites/")] = None,
) -> None:
    """Every suite harness can find, with what it is for."""
    try:
        for path in available_suites(_config_base(config)):
            suite = read_suite(path)
            about = suite.get("meta", {}).get("about", "")
            console.print(f"[bold]{path.stem}[/] ({len(suite['expectations'])} checks) {about}  [dim]{path}[/]")
    except USER_ERRORS as exc:
        _fail(str(exc))


@suites_app.command("show")
def suites_show(
    name: Annotated[str, typer.Argument(help="suite name or path to a suite file")],
    config: Annotated[Path | None, typer.Option("--config", help="look in the project's own suites/ first")] = None,
) -> None:
    """What a suite checks, in plain words."""
    try:
        base = _config_base(config) or Path.cwd()
        suite = read_suite(suite_path(name, base))
    except USER_ERRORS as exc:
        _fail(str(exc))
    console.print(f"[bold]{suite['name']}[/]: {suite.get('meta', {}).get('about', '')}")
    for expectation in suite["expectations"]:
        severity = expectation.get("severity", "critical")
        console.print(f"  [{'red' if severity == 'critical' else 'yellow'}]{severity:>8}[/]  {describe(expectation)}",
                      highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
