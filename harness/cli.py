"""The ``harness`` command: parse, call, print. No pipeline logic lives here.

Exit codes: 0 success, 1 the job ran and found a blocking problem, 2 a usage
error (bad config, missing or unreadable input) reported as one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
USER_ERRORS = (ConfigError, DataError, LshParameterError, TokenizerError)


def _fail(message: str, code: int = 2) -> None:
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
    """Write the built-in example data set (with planted defects) and its config."""
    config_path = write_example(directory)
    console.print(f"wrote {config_path} and {directory / 'data'}/ ; planted rows are listed in {directory / 'planted.json'}")


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Option("--dir", help="where the demo writes everything")] = Path("reports/demo"),
) -> None:
    """Generate the example data set and run the whole data pipeline on it."""
    config_path = write_example(directory / "example")
    console.print(f"[bold]harness demo[/]: example data with planted defects in {directory / 'example'}")
    _run_prepare(config_path, output=directory / "data", strict=False, use_cache=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
