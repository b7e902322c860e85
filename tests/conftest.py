"""Shared fixtures: small data files and configs written into tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def write_jsonl():
    def write(path: Path, rows: list[dict | bytes | str]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [r if isinstance(r, bytes) else (r.encode() if isinstance(r, str) else json.dumps(r).encode()) for r in rows]
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path

    return write


@pytest.fixture
def write_config():
    def write(directory: Path, **fields) -> Path:
        config = {"project": "t", "data": {"kind": "instruction", "inputs": ["data.jsonl"]}} | fields
        path = directory / "harness.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write
