from pathlib import Path

import pytest
import yaml

from harness.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, config: dict | str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


BASE = {"project": "p", "data": {"kind": "instruction", "inputs": ["x.jsonl"]}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"dedup": {"near": {"threshold": 1.5}}}, "dedup.near.threshold: Input should be less than 1"),
        ({"dedup": {"near": {"bands": 20, "rows": 10}}}, "bands * rows = 200 exceeds num_perm = 128"),
        ({"dedup": {"near": {"bands": 4}}}, "set both bands and rows"),
        ({"split": {"train": 0.8, "validation": 0.15, "test": 0.15}}, "must be 1.0, got 1.1"),
        ({"filters": {"max_tokens": 512}}, "max_tokens needs a tokenizer"),
        ({"dedupe": {}}, "dedupe: unknown field"),
        ({"pii": {"email": "shred"}}, "pii.email: Input should be 'redact', 'drop', 'flag' or 'ignore'"),
        ({"data": {"kind": "instruction", "inputs": ["x"], "columns": {"answer": "a"}}}, "unknown field(s) ['answer']"),
        ({"data": {"kind": "poetry", "inputs": ["x"]}}, "data.kind: Input should be"),
    ],
)
def test_invalid_config_names_file_and_field(tmp_path, change, expected):
    path = _write(tmp_path, BASE | change)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


def test_missing_required_field(tmp_path):
    with pytest.raises(ConfigError, match="data: required field is missing"):
        load_config(_write(tmp_path, {"project": "p"}))


def test_not_yaml_and_not_found(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "project: [unclosed"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_every_shipped_config_loads(tmp_path):
    from harness.examples import write_example

    shipped = [write_example(tmp_path / "example"), *REPO.glob("examples/**/*.yaml")]
    for path in shipped:
        config, _ = load_config(path)
        assert config.project


def test_readme_config_examples_are_valid():
    """The YAML snippets in the README are configs users copy: they must validate."""
    import re

    from harness.config import HarnessConfig

    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        raw = yaml.safe_load(block)
        config = {"project": "p", "data": {"kind": "instruction", "inputs": ["x.jsonl"]}} | raw
        if "train" in config:
            config["train"] = {"model": "m"} | config["train"]
        HarnessConfig.model_validate(config)
