"""Read JSONL, JSON arrays, CSV and Parquet (plain, gzip or zstd) row by row.

Polars' own readers abort a whole file on one bad row; a user with a 2 GB file
and one broken line wants that line in the rejects, not a traceback. So text
formats are parsed one record at a time with the standard library (which
reports the exact line), and Parquet, which is typed and cannot hold a broken
row, goes through polars. Every record read yields either a parsed row or a
``ParseFailure``; nothing is dropped here.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import zstandard

FORMATS = ("jsonl", "json", "csv", "parquet")
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")


class DataError(ValueError):
    """A problem with an input file as a whole; the message is one line a user can act on."""


@dataclass(frozen=True)
class ParsedRow:
    line: int
    value: Any


@dataclass(frozen=True)
class ParseFailure:
    line: int
    reason: str
    detail: str
    raw: str


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (inputs can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expand_inputs(pattern: str, base: Path) -> list[Path]:
    """Paths matching a path or glob (relative to ``base``), sorted so row ids are stable."""
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    if glob.has_magic(full):
        matches = sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
        if not matches:
            raise DataError(f"{pattern}: the pattern matches no file (searched from {base})")
        return matches
    path = Path(full)
    if not path.exists():
        raise DataError(f"{pattern}: file not found (looked for {path})")
    if not path.is_file():
        raise DataError(f"{pattern}: not a file")
    return [path]


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    fmt = _SUFFIX_FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise DataError(f"{path}: cannot tell the format from the name; set format: to one of {', '.join(FORMATS)}")
    return fmt


def _open_binary(path: Path) -> BinaryIO:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith((".zst", ".zstd")):
        return zstandard.ZstdDecompressor().stream_reader(path.open("rb"), closefd=True)  # type: ignore[return-value]
    return path.open("rb")


def _read_bytes(path: Path) -> bytes:
    try:
        with _open_binary(path) as handle:
            return handle.read()
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise DataError(f"{path}: cannot read or decompress: {exc}") from exc


def _has_surrogates(value: Any) -> bool:
    """True when a decoded value holds bytes that were not valid UTF-8 (surrogateescape)."""
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def _snippet(text: str, limit: int = 500) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _iter_jsonl(data: bytes) -> Iterator[ParsedRow | ParseFailure]:
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raw = raw_line.decode("utf-8", "backslashreplace")
            yield ParseFailure(number, "invalid_utf8", f"byte {exc.start}: not valid UTF-8", _snippet(raw))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ParseFailure(number, "invalid_json", f"column {exc.colno}: {exc.msg}", _snippet(line))
            continue
        yield ParsedRow(number, value)


def _iter_json_array(path: Path, data: bytes) -> Iterator[ParsedRow | ParseFailure]:
    text = data.decode("utf-8", "surrogateescape")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); a JSON file must hold one array of rows") from None
    if not isinstance(value, list):
        raise DataError(f"{path}: a JSON file must hold an array of rows, got {type(value).__name__} (use .jsonl for one row per line)")
    for index, row in enumerate(value, start=1):
        if _has_surrogates(row):
            yield ParseFailure(index, "invalid_utf8", "row holds bytes that are not valid UTF-8", _snippet(json.dumps(row)))
        else:
            yield ParsedRow(index, row)


def _iter_csv(path: Path, data: bytes) -> Iterator[ParsedRow | ParseFailure]:
    text = data.decode("utf-8-sig", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(f"{path}:1: cannot read the CSV header: {exc}") from None
    if len(set(header)) != len(header):
        raise DataError(f"{path}:1: the CSV header repeats a column name: {header}")
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ParseFailure(start, "invalid_csv", str(exc), "")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not fields or fields == [""]:
            continue
        raw = ",".join(fields)
        if len(fields) != len(header):
            yield ParseFailure(line, "wrong_field_count", f"{len(fields)} fields, header has {len(header)}", _snippet(raw))
        elif _has_surrogates(fields):
            yield ParseFailure(line, "invalid_utf8", "row holds bytes that are not valid UTF-8", _snippet(raw))
        else:
            yield ParsedRow(line, dict(zip(header, fields, strict=True)))


def _iter_parquet(path: Path) -> Iterator[ParsedRow | ParseFailure]:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several error types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    for index, row in enumerate(frame.iter_rows(named=True), start=1):
        yield ParsedRow(index, row)


def iter_records(path: Path, fmt: str) -> Iterator[ParsedRow | ParseFailure]:
    """Every record of a file in order. Blank lines are not records and are skipped."""
    if fmt == "parquet":
        if path.name.lower().endswith(_COMPRESSION_SUFFIXES):
            raise DataError(f"{path}: Parquet compresses internally; do not gzip or zstd it")
        yield from _iter_parquet(path)
        return
    data = _read_bytes(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(data)
    elif fmt == "json":
        yield from _iter_json_array(path, data)
    elif fmt == "csv":
        yield from _iter_csv(path, data)
    else:
        raise DataError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
