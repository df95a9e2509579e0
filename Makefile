# ts-toolkit developer loop. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip

.PHONY: all venv demo test bench bench-cluster bench-large lint clean

all: test

EXAMPLES := examples/stanton-sphere examples/centroid-classifier examples/csv-source

$(STAMP): pyproject.toml constraints.txt $(addsuffix /pyproject.toml,$(EXAMPLES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[test]" $(addprefix -e ,$(EXAMPLES))
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/ts-toolkit demo

test: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python -m pytest -m slow
	$(BIN)/python scripts/bench.py

bench-cluster: venv
	$(BIN)/python scripts/bench_cluster.py

bench-large: venv
	$(BIN)/python scripts/bench_large.py

lint: venv
	$(BIN)/ruff check src plugins tests examples scripts
	$(BIN)/ruff format --check src plugins tests examples scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build src/*.egg-info
