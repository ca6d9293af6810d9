# Course build and checks. GNU make; every recipe runs with /bin/sh.
#
#   make             create .venv if needed, then execute every notebook and render its page
#   make test        ruff, unit + browser tests, nbval on the notebooks, check-docs
#   make check-docs  the committed pages match the committed notebooks (no execution)
#   make bench       time EM (bench/bench_em.py)
#   make lab         JupyterLab on notebooks/
#   make app         the interactive explorer as a Voila app on http://127.0.0.1:8866
#   make load-test   10 simulated users on the app for a minute: bench/results/load_test.md
#   make clean       remove .venv, caches and build artefacts (not the committed pages)

SHELL := /bin/sh
.DEFAULT_GOAL := all

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
TESTS := $(wildcard tests/test_*.py tests/*_test.py)
TEST_STEPS := lint format-check unit nbval check-docs
APP_NOTEBOOK := notebooks/05_interactive_explorer.ipynb
APP_PORT := 8866

# The same interpreter settings for building, nbval and the tests: a fixed hash seed (set
# order) and no debugger chatter from the kernels on Python 3.11.
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: all build test lint format-check unit nbval check-docs bench lab app clean help

all: build

## The environment --------------------------------------------------------------------

# Python 3.11 when there is one, else python3 (pyproject.toml asks for >= 3.11).
$(PY):
	@echo "== creating $(VENV)"
	python3.11 -m venv $(VENV) || { rm -rf $(VENV); python3 -m venv $(VENV); }

# Reinstalled whenever the pinned requirements or the project's metadata change.
$(STAMP): requirements.txt pyproject.toml | $(PY)
	@echo "== installing requirements.txt and the course modules (editable) into $(VENV)"
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $@

## Building the course ------------------------------------------------------------------

# Execute every notebook in place (fresh kernel, top to bottom), render docs/NAME.md,
# then README.ipynb -> README.md. One notebook: $(PY) tools/build_notebooks.py NOTEBOOK
build: $(STAMP)
	$(PY) tools/build_notebooks.py

## Checks -------------------------------------------------------------------------------

# Runs every step even when one fails, then fails if any did.
test: $(STAMP)
	@failed=; \
	for step in $(TEST_STEPS); do \
		echo "== make $$step"; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "== make test FAILED:$$failed"; exit 1; fi; \
	echo "== make test passed: $(TEST_STEPS)"

lint: $(STAMP)
	$(BIN)/ruff check .

format-check: $(STAMP)
	$(BIN)/ruff format --check .

unit: $(STAMP)
ifneq ($(TESTS),)
	$(BIN)/pytest tests
else
	@echo "no tests/test_*.py yet: unit tests skipped"
endif

nbval: $(STAMP)
ifneq ($(NOTEBOOKS),)
	$(BIN)/pytest --nbval notebooks/ --nbval-sanitize-with tools/nbval_sanitize.cfg
else
	@echo "no notebooks/*.ipynb yet: nbval skipped"
endif

check-docs: $(STAMP)
	$(PY) tools/check_docs.py

## Using the course ---------------------------------------------------------------------

bench: $(STAMP)
	$(PY) bench/bench_em.py

# Jupyter refuses to run as root without --allow-root (containers, CI machines).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Voila's default kernel manager (the async one, named here) and its culling: a kernel whose
# page is gone (no websocket left: closed, reloaded) and idle for 120 s is shut down, checked
# every 30 s; an open page keeps its kernel however long it sits idle. The same options as
# bench/load_test.py's APP_OPTIONS (tests/test_explorer_browser.py checks).
APP_OPTIONS := \
	--VoilaConfiguration.multi_kernel_manager_class=jupyter_server.services.kernels.kernelmanager.AsyncMappingKernelManager \
	--MappingKernelManager.cull_idle_timeout=120 \
	--MappingKernelManager.cull_interval=30 \
	--MappingKernelManager.cull_connected=False

app: $(STAMP)
	$(BIN)/voila $(APP_NOTEBOOK) --no-browser --Voila.ip=127.0.0.1 --port=$(APP_PORT) $(APP_OPTIONS)

# 10 simulated users on the app, a slider move each every 2 s for a minute; writes
# bench/results/load_test.md (its short form runs in `make test`).
.PHONY: load-test
load-test: $(STAMP)
	$(PY) bench/load_test.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis dask-worker-space
	find . -path ./.git -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-prune -exec rm -rf {} +

help:
	@sed -n 's/^#   //p' Makefile
