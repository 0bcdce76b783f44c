# Every target sets itself up: it creates .venv if missing and installs the pinned
# requirements and this package (editable) before acting.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS ?= $(sort $(wildcard book/*.ipynb))
export MLDERIVE_DATA ?= $(abspath ../shared/data)

# Debian packages for `make pdf` and for the reader's tests in tests/publish (CI installs them).
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
  tex-gyre texlive-plain-generic poppler-utils
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: setup book pdf pdf-student test lint lab execute bench clean apt-packages

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11 or newer is needed; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "The book is in _build/html/index.html"

pdf: setup
	@command -v latexmk >/dev/null && command -v pdflatex >/dev/null || { \
	  echo "make pdf needs LaTeX. Install it with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; exit 1; }
	$(BIN)/jupyter-book build . --builder pdflatex
	@echo "The PDF is in _build/latex/mlderive.pdf"

# The book without solutions, for students: sphinx-exercise's hide_solutions (tools/).
pdf-student: setup
	@command -v latexmk >/dev/null && command -v pdflatex >/dev/null || { \
	  echo "make pdf-student needs LaTeX. Install it with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; exit 1; }
	$(BIN)/python tools/build_student_pdf.py _build/student
	@echo "The student PDF is in _build/student/_build/latex/mlderive.pdf"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  tests book

lab: setup
	$(BIN)/jupyter lab book/

execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.store_widget_state=True \
	  $(NOTEBOOKS)

# Speed against PyTorch, side by side (benchmarks/README.md). torch is benchmark-only.
bench: setup
	$(BIN)/python -c 'import torch' 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/run.py

apt-packages:
	@echo make $(TEX_PACKAGES) $(BROWSER_PACKAGES)

clean:
	rm -rf _build
