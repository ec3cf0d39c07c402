# Two commands: `make run` starts the service, `make test` installs and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
INSTALLED := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7071
ARGS ?=

.PHONY: install run emulator test lint typecheck unit clients bench tck clean

# What the server needs (make run), then the test and lint tools on top (make test).
$(RUNTIME): requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(INSTALLED): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

install: $(INSTALLED) $(CHECKOV)

run: $(RUNTIME)
	$(BIN)/python -m agents_core serve --host $(HOST) --port $(PORT) $(ARGS)

emulator: $(RUNTIME)
	$(BIN)/python -m agents_core emulator --host $(HOST) --port 8080

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

unit: $(INSTALLED) $(CHECKOV)
	$(BIN)/python -m pytest -q -rs

test: lint typecheck unit

# The client matrix: real client libraries (Python, and npm ones from tests/clients/package-lock.json
# through npm ci) against `serve` with its emulator. The npm clients skip, saying why, without Node 20+.
clients: $(INSTALLED)
	CLIENT_MATRIX=1 $(BIN)/python -m pytest -q tests/clients

bench: $(INSTALLED)
	$(BIN)/python tests/bench.py

# The A2A conformance kit (a2aproject/a2a-tck): TCK_DIR is a checkout of its 1.0 suite,
# TCK03_DIR (optional) of its 0.3.x branch, TCK_PYTHON a Python with the kit's requirements.
TCK03_DIR ?=
TCK_PYTHON ?= $(abspath $(BIN)/python)
tck: $(INSTALLED)
	TCK_DIR="$(TCK_DIR)" TCK03_DIR="$(TCK03_DIR)" TCK_PYTHON="$(TCK_PYTHON)" $(BIN)/python tests/tck_run.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache tests/clients/node_modules
