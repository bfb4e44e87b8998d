# Two commands on a fresh machine:  `make run` (execute the notebook)  and  `make test` (run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

## run: execute assignment2.ipynb in a fresh kernel -> outputs/assignment2.executed.ipynb (A2_SMOKE=1 for a fast run)
run: $(VENV)/.installed
	$(BIN)/python tools/run_notebook.py

## test: the test suite (includes a smoke-mode run of the whole notebook)
test: $(VENV)/.installed
	$(BIN)/python -m pytest -ra tests

lint: $(VENV)/.installed
	$(BIN)/python -m ruff check assignment2.ipynb tools tests

clean:
	rm -rf outputs $(VENV)
