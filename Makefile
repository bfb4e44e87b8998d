# Two commands on a fresh machine: `make run` (execute the notebook) and `make test` (run the tests).
# `make pdf` installs the PDF tools, then turns the executed notebook into outputs/assignment2.pdf.
# A2_SMOKE=1 selects smoke mode.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
MATHJAX := .pdf-tools/node_modules/mathjax/MathJax.js
MODE := $(if $(filter 1,$(A2_SMOKE)),smoke,full)
EXECUTED := outputs/assignment2.$(MODE).ipynb

.PHONY: run test pdf pdf-deps lint bench clean clean-checkpoints clean-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

## run: execute the notebook in a fresh kernel with papermill (tools/run_notebook.py: its log shows the live progress too) -> outputs/assignment2.<mode>.ipynb
run: $(VENV)/.installed
	@rm -f $(EXECUTED)
	@$(MAKE) --no-print-directory $(EXECUTED)

# Re-executed only when missing or older than the notebook. A failed run keeps its copy (the error in context)
# but dates it 1970, so that the next `make pdf` executes again.
$(EXECUTED): assignment2.ipynb | $(VENV)/.installed
	@mkdir -p outputs
	$(BIN)/python tools/run_notebook.py assignment2.ipynb $@ --cwd . --kernel python3 --log-output --progress-bar \
	  || { touch -t 197001010000 $@; echo "The run failed; the executed copy with the error is $@" >&2; exit 1; }

## test: the test suite (includes a smoke-mode run of the whole notebook and a PDF export)
test: $(VENV)/.installed
	$(BIN)/python -m pytest -ra tests

## pdf: the PDF tools first (pdf-deps), then the executed notebook of this mode (executed if needed) -> outputs/assignment2.pdf
# pdf-deps is a prerequisite and the notebook is made in the recipe, so that a missing browser or MathJax stops
# `make pdf` before hours of execution, also under `make -j`.
pdf: pdf-deps
	@$(MAKE) --no-print-directory $(EXECUTED)
	$(BIN)/python tools/export_pdf.py $(EXECUTED) outputs/assignment2.pdf

## pdf-deps: Chrome/Chromium (Debian's chromium and poppler-utils through apt where apt exists) and MathJax 2.7
pdf-deps: $(VENV)/.installed
	@if ! $(BIN)/python tools/export_pdf.py --find-browser >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium poppler-utils; \
	  elif ! $(BIN)/python tools/export_pdf.py --find-browser; then exit 1; \
	  else echo "note: no poppler (pdftotext): the PDF tests will be skipped (macOS: brew install poppler)"; fi; \
	fi
	@test -f $(MATHJAX) || npm install --silent --prefix .pdf-tools --no-audit --no-fund mathjax@2.7.9 \
	  || { echo "error: MathJax needs npm, which comes with Node.js (https://nodejs.org)" >&2; exit 1; }

## lint: ruff (settings in pyproject.toml) on the notebook, the tools, the tests and the benchmarks
lint: $(VENV)/.installed
	$(BIN)/python -m ruff check assignment2.ipynb tools tests benchmarks

## bench: the performance comparisons (a few minutes on 2 cores); they import tools/notebook_namespace.py
bench: $(VENV)/.installed
	PYTHONPATH=tools$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python benchmarks/bench_attack.py
	PYTHONPATH=tools$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python benchmarks/bench_lm.py

# Paths relative to this folder only, so that `make -C elsewhere clean` cleans elsewhere.
## clean: delete what a run regenerates in minutes (executed notebooks, PDF, HTML, samples, adversarial PNGs,
##        checks.json) and the caches; keeps the trained models in outputs/checkpoints/, .venv and .pdf-tools
clean:
	rm -f outputs/assignment2.*.ipynb outputs/assignment2.pdf outputs/assignment2.html outputs/sample_*.txt \
	  outputs/checks.json
	rm -rf outputs/adversarial .pytest_cache .ruff_cache
	find . \( -path ./.venv -o -path ./.pdf-tools -o -path ./.git \) -prune -o -type d -name __pycache__ -prune \
	  -exec rm -rf {} +
	@rmdir outputs 2>/dev/null || true

## clean-checkpoints: `make clean`, and DELETE THE TRAINED MODELS in outputs/checkpoints/ (2-6 hours of CPU
##                    training to redo: Q2's language models)
clean-checkpoints: clean
	rm -rf outputs/checkpoints
	@rmdir outputs 2>/dev/null || true

## clean-env: delete the virtual environment and the PDF tools (`make pdf-deps` and the next make install them)
clean-env:
	rm -rf $(VENV) .pdf-tools
