# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup lint typecheck bench clean

$(BIN)/sqsocket: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,docker,bench]'
	touch $@

setup: $(BIN)/sqsocket

demo: setup
	$(BIN)/sqsocket demo

lint: setup
	$(BIN)/ruff check sqsocket tests benchmarks
	$(BIN)/ruff format --check sqsocket tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info var
