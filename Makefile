# Every target sets itself up: it creates .venv if missing and installs the pinned
# requirements and this package (editable) before acting.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The project's Jupyter kernel and JupyterLab's settings, both inside .venv (see `setup`).
KERNEL := $(VENV)/share/jupyter/kernels/mlderive/kernel.json
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
NOTEBOOKS ?= $(sort $(wildcard book/*.ipynb))
# nbval runs every cell of every notebook; a cell fails if it raises (the chapters' claims are
# asserts). Stored outputs are compared only in cells tagged nbval-check-output: those whose
# output is the same on every machine. The rule and its reasons: tests/README.md.
NBVAL := --nbval-lax --nbval-current-env

# Debian packages for `make pdf` and for the reader's tests in tests/publish (CI installs them).
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
  tex-gyre texlive-plain-generic poppler-utils
BROWSER_PACKAGES := chromium chromium-driver
PDF := _build/latex/mlderive.pdf

.PHONY: setup book pdf pdf-student test test-notebooks test-other-kernel lint lab lab-reset \
  execute bench clean apt-packages

setup: $(STAMP) $(KERNEL) $(LAB_SETTINGS)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11 or newer is needed; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# The notebooks name this kernel in their metadata: JupyterLab and `jupyter nbconvert --execute`
# start it, so they run in .venv, and opening a notebook changes nothing in it.
$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name mlderive --display-name "Python (mlderive)"

# JupyterLab reads overrides.json from inside the environment: no news prompt, no update check.
$(LAB_SETTINGS): tools/lab-overrides.json $(STAMP)
	@mkdir -p $(dir $@)
	cp $< $@

# The website; when the PDF has been built (make pdf), it ships inside the site as mlderive.pdf.
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@if [ -f $(PDF) ]; then cp $(PDF) _build/html/mlderive.pdf; \
	  echo "The PDF is in the site too: _build/html/mlderive.pdf"; fi
	@echo "The book is in _build/html/index.html"

pdf: setup
	@command -v latexmk >/dev/null && command -v pdflatex >/dev/null || { \
	  echo "make pdf needs LaTeX. Install it with:"; \
	  echo "  sudo apt-get install $(TEX_PACKAGES)"; exit 1; }
	$(BIN)/jupyter-book build . --builder pdflatex
	@if [ -d _build/html ]; then cp $(PDF) _build/html/mlderive.pdf; fi
	@echo "The PDF is in $(PDF)"

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

# Everything: lint, unit tests, every notebook, the reader's tests of the website and the PDF.
# In CI (CI set) the notebooks run a second time under another BLAS kernel family.
test: lint
	$(BIN)/pytest $(NBVAL) tests $(NOTEBOOKS)
	@if [ -n "$$CI" ]; then $(MAKE) --no-print-directory test-other-kernel; fi

# One chapter on its own: make test-notebooks NOTEBOOKS=book/softmax.ipynb
test-notebooks: setup
	$(BIN)/pytest $(NBVAL) $(NOTEBOOKS)

# The notebooks again under another OpenBLAS kernel family than the one this CPU picks
# (Haswell on AVX-512, Sandybridge on AVX2) and one BLAS thread: their last bits differ, the
# claims must not.
test-other-kernel: setup
	@other=$$($(BIN)/python tools/blas_kernel.py other); \
	if [ -z "$$other" ]; then \
	  echo "test-other-kernel: no other OpenBLAS kernel family to try on this $$(uname -m) CPU; skipped."; \
	  exit 0; \
	fi; \
	own=$$($(BIN)/python tools/blas_kernel.py own); \
	got=$$(OPENBLAS_CORETYPE=$$other $(BIN)/python tools/blas_kernel.py own); \
	if [ "$$got" != "$$other" ]; then \
	  echo "test-other-kernel: OPENBLAS_CORETYPE=$$other gave kernel '$$got'"; exit 1; \
	fi; \
	echo "Notebooks again under OpenBLAS kernel $$other, one thread (this CPU's own: $$own)"; \
	OPENBLAS_CORETYPE=$$other OPENBLAS_NUM_THREADS=1 $(BIN)/pytest $(NBVAL) $(NOTEBOOKS)

# JupyterLab on the student's own working copy (lab/, ignored by git), never on book/: autosave
# and exercise code stay out of the book. tools/lab_copy.py makes a copy once and never
# overwrites it; in the copy, pasted numbers, links to other chapters and citations are
# resolved, since JupyterLab renders one notebook at a time. The copies are trusted, so their
# stored outputs (animations, saved widgets) show. A fresh copy of one chapter:
# make lab-reset CHAPTER=softmax
LAB_DIR := lab
LAB_ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
lab: setup
	$(BIN)/python tools/lab_copy.py $(LAB_DIR)
	@$(BIN)/jupyter trust $(LAB_DIR)/*.ipynb >/dev/null
	$(BIN)/jupyter lab $(LAB_ROOT_FLAG) $(LAB_DIR)/

lab-reset: setup
	@test -n "$(CHAPTER)" || { echo "Name the chapter: make lab-reset CHAPTER=softmax"; exit 1; }
	$(BIN)/python tools/lab_copy.py $(LAB_DIR) --reset $(CHAPTER)

execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.store_widget_state=True \
	  $(NOTEBOOKS)

# Speed against PyTorch, side by side, then a grid of runs one after another against
# train_in_parallel (benchmarks/README.md). torch is benchmark-only.
bench: setup
	$(BIN)/python -c 'import torch' 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/run.py --profile 100
	$(BIN)/python benchmarks/parallel_runs.py

apt-packages:
	@echo make $(TEX_PACKAGES) $(BROWSER_PACKAGES)

clean:
	rm -rf _build
