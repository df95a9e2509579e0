# ts-toolkit developer loop. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip

# echopype 0.11 is the last for Python < 3.13; echopype 0.12 needs Python >= 3.13. Where a
# python3.13 runs (PATH or pyenv), `make test` also makes .venv313 (echopype 0.12, no torch:
# see pyproject.toml) and runs the EK80/echopype tests there.
PYTHON313 ?= $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13); do "$$p" -c "" >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV313   := .venv313
STAMP313  := $(VENV313)/.installed-stamp
# (the EK80 path through echopype 0.12: our .raw files and echopype's own converted files
# read back through the same chain as on 3.11; the .raw-only reader tests run in .venv, which
# keeps CI under 20 minutes on 2 cores)
TESTS313  := tests/test_ek80_echopype_input.py tests/test_synth_echopype.py tests/test_ek80_files.py \
             tests/test_ek80_direct.py

.PHONY: all venv venv313 demo test test313 bench bench-cluster bench-large bench-inversion lint clean

all: test

EXAMPLES := examples/stanton-sphere examples/centroid-classifier examples/csv-source

$(STAMP): pyproject.toml constraints.txt $(addsuffix /pyproject.toml,$(EXAMPLES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[test]" $(addprefix -e ,$(EXAMPLES))
	touch $(STAMP)

venv: $(STAMP)

$(STAMP313): pyproject.toml constraints.txt $(addsuffix /pyproject.toml,$(EXAMPLES))
	test -x $(VENV313)/bin/python || $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install -q --upgrade pip
	$(VENV313)/bin/python -m pip install -q -c constraints.txt -e ".[test]" $(addprefix -e ,$(EXAMPLES))
	touch $(STAMP313)

venv313:
ifneq ($(PYTHON313),)
	$(MAKE) $(STAMP313)
else
	@echo "no python3.13 found: skipping the Python 3.13 / echopype 0.12 venv"
endif

demo: venv
	$(BIN)/ts-toolkit demo

# Test processes (pytest-xdist): one per logical CPU by default; a test file's tests share one process
# (its module fixtures are made once). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= logical

test: venv
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile
	$(MAKE) test313

test313: venv313
ifneq ($(PYTHON313),)
	$(VENV313)/bin/python -m pytest -p no:cacheprovider $(TESTS313)
endif

bench: venv
	$(BIN)/python -m pytest -m slow
	$(BIN)/python scripts/bench.py

bench-cluster: venv
	$(BIN)/python scripts/bench_cluster.py

bench-large: venv
	$(BIN)/python scripts/bench_large.py

bench-inversion: venv  # issue 29's figures (docs/inversion.md); needs ../shared/data/table1.nc
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python scripts/bench_inversion.py --part table --n 200
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python scripts/bench_inversion.py --part ood

lint: venv
	$(BIN)/ruff check src plugins tests examples scripts
	$(BIN)/ruff format --check src plugins tests examples scripts

clean:
	rm -rf $(VENV) $(VENV313) .pytest_cache .ruff_cache build src/*.egg-info
