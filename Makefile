# Two entry points: `make demo` and `make test`. Both create .venv with the CPU build of torch.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch. Elsewhere than this project's machines, pin the CPU wheel index with
# `make demo TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`; see README for CUDA.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
CORES ?= 2

.PHONY: demo test lint clean example

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install --quiet -e ".[workflow,dev]"
	touch $@

demo: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks resources
	$(BIN)/ruff format --check src tests benchmarks resources
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint

example: $(BIN)/.installed
	$(BIN)/python resources/example/generate.py

clean:
	rm -rf results .snakemake report.html
