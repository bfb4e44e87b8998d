# Two commands on a fresh machine:  `make run` (execute the notebook)  and  `make test` (run the tests).
# `make pdf` turns the executed notebook into outputs/assignment2.pdf.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
MATHJAX := .pdf-tools/node_modules/mathjax/MathJax.js

.PHONY: run test pdf pdf-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

## run: execute assignment2.ipynb in a fresh kernel -> outputs/assignment2.executed.ipynb (A2_SMOKE=1 for a fast run)
run: $(VENV)/.installed
	$(BIN)/python tools/run_notebook.py

## test: the test suite (includes a smoke-mode run of the whole notebook and a PDF export)
test: $(VENV)/.installed
	$(BIN)/python -m pytest -ra tests

## pdf: executed notebook (re-executed only if missing, older or of another mode) -> outputs/assignment2.pdf
pdf: $(VENV)/.installed pdf-deps
	$(BIN)/python tools/run_notebook.py --if-stale
	$(BIN)/python tools/export_pdf.py

## pdf-deps: Debian's chromium and poppler-utils, and MathJax 2.7 from the npm registry (into .pdf-tools/)
pdf-deps:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium poppler-utils; }
	@test -f $(MATHJAX) || npm install --silent --prefix .pdf-tools --no-audit --no-fund mathjax@2.7.9

lint: $(VENV)/.installed
	$(BIN)/python -m ruff check assignment2.ipynb tools tests benchmarks

## bench: the performance comparisons the issues promise (a few minutes on 2 cores)
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_attack.py
	$(BIN)/python benchmarks/bench_lm.py

clean:
	rm -rf outputs $(VENV) .pdf-tools
