# The two commands a newcomer needs (see README.md):
#   make demo   set up .venv and run the main job on the built-in example
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/harness demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/dedup_bench.py
	$(BIN)/python benchmarks/check_bench.py
	$(BIN)/python benchmarks/train_bench.py
	$(BIN)/python benchmarks/generation_bench.py

clean:
	rm -rf $(VENV) reports/demo .pytest_cache
