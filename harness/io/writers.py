"""Atomic writes: a crash or Ctrl-C never leaves a half-written output behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path: Path) -> None:
    _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(data: Any, path: Path) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n", path)


def write_frame(frame: pl.DataFrame, stem: Path, *, jsonl: bool = True) -> list[Path]:
    """Write ``stem.parquet`` and, unless told not to, ``stem.jsonl``."""
    written = [stem.with_suffix(".parquet")]
    _atomic(written[0], lambda p: frame.write_parquet(p, statistics=False))
    if jsonl:
        written.append(stem.with_suffix(".jsonl"))
        _atomic(written[1], lambda p: frame.write_ndjson(p))
    return written
