# glotforge: the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_OUT ?= out/demo
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test lint install check-java pyfiles clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is required")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch is pinned to the CPU build that is installable without CUDA; see README for GPU machines.
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

check-java:
	@bash scripts/check_java.sh

# The whole main job on the bundled UDHR sample; the report's location is printed at the end.
demo: install check-java
	$(VENV)/bin/glot demo --output $(DEMO_OUT)

test: install check-java
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .

# The package as a zip for spark-submit --py-files (executors import pipeline/ from it).
pyfiles:
	mkdir -p dist && rm -f dist/glotforge.zip
	$(PY) scripts/make_pyfiles.py dist/glotforge.zip
	@echo dist/glotforge.zip

clean:
	rm -rf out dist .pytest_cache
