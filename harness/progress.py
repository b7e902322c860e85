"""Progress display for long steps; silent when there is no terminal or in tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Reporter:
    """Steps and bars for one command, and how long each step took. ``Reporter(None)`` shows nothing."""

    def __init__(self, console: Console | None) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = (
            Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                     TimeElapsedColumn(), console=console, transient=True)
            if console is not None
            else None
        )

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A step with an optional bar; yields ``advance(n)``."""
        started = time.perf_counter()
        try:
            if self._progress is None:
                yield lambda n: None
                return
            task = self._progress.add_task(description, total=total)
            try:
                yield lambda n: self._progress.advance(task, n)
            finally:
                self._progress.update(task, completed=total if total is not None else 1, total=total or 1)
                self._progress.remove_task(task)
        finally:
            self.seconds[description] = round(time.perf_counter() - started, 3)
