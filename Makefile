# Course build and checks. GNU make; every recipe runs with /bin/sh.
#
#   make             create .venv if needed, then execute every notebook and render its page
#   make test        every check below, then a summary: which steps passed, failed, were skipped
#   make lint / format-check   ruff on the modules, tests and notebooks
#   make unit        the fast unit tests (plain pytest: not the browser and load tests)
#   make browser     the tests marked browser or load: the explorer in headless Chromium
#                    (Debian's chromium, chromium-driver) and the short load test
#   make nbval       re-run every notebook and README.ipynb, compare with the saved outputs
#   make nbval-one-thread  the same with one BLAS thread: a second floating-point path
#   make check-docs  the committed pages match the committed notebooks (no execution)
#   make tinker      run every chapter over its parameters cell's grid of other values
#   make tinker-short  the same, the first value of each grid only (a step of make test)
#   make bench       time EM (python -m bench.bench_em)
#   make lab         JupyterLab on notebooks/
#   make app         the explorer app (app/explorer.ipynb) with Voila on http://127.0.0.1:8866
#   make load-test   USERS (10) simulated users on the app: bench/results/load_test.md
#   make clean       remove .venv, caches and build artefacts (not the committed pages)

SHELL := /bin/sh
.DEFAULT_GOAL := all

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
TESTS := $(wildcard tests/test_*.py tests/*_test.py)
TEST_STEPS := lint format-check unit browser nbval nbval-one-thread check-docs tinker-short
# Where the steps of make test leave their JUnit reports and skip notes for its summary.
TEST_DIR := build/test
NBVAL_NOTEBOOKS := $(NOTEBOOKS) $(wildcard README.ipynb)
# The app: the three widgets of chapter 5 on a page of their own (not built by make, not
# checked by nbval: Voila runs it; tests/test_explorer_browser.py checks it in a browser).
APP_NOTEBOOK := app/explorer.ipynb
APP_PORT := 8866

# The same interpreter settings for building, nbval and the tests: a fixed hash seed (set
# order) and no debugger chatter from the kernels on Python 3.11.
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: all build test lint format-check unit browser nbval nbval-one-thread check-docs bench lab \
	app clean help

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
# then README.ipynb -> README.md. One notebook: $(PY) -m tools.build_notebooks NOTEBOOK
build: $(STAMP)
	$(PY) -m tools.build_notebooks

## Checks -------------------------------------------------------------------------------

# Runs every step even when one fails, then prints which steps passed, failed and were
# skipped (a step skips by writing $(TEST_DIR)/STEP.skipped: why, and how to enable it), and
# fails if any step failed.
test: $(STAMP)
	@rm -rf $(TEST_DIR); mkdir -p $(TEST_DIR); passed=; failed=; skipped=; \
	for step in $(TEST_STEPS); do \
		echo "== make $$step"; \
		if $(MAKE) --no-print-directory $$step; then \
			if [ -s $(TEST_DIR)/$$step.skipped ]; then skipped="$$skipped $$step"; \
			else passed="$$passed $$step"; fi; \
		else failed="$$failed $$step"; fi; \
	done; \
	echo "== make test summary (steps: $(TEST_STEPS))"; \
	echo "   passed:$${passed:- none}"; \
	echo "   failed:$${failed:- none}"; \
	echo "   skipped:$${skipped:- none}"; \
	for step in $(TEST_STEPS); do \
		for kind in skipped notes; do \
			[ -s $(TEST_DIR)/$$step.$$kind ] && sed "s/^/   $$step: /" $(TEST_DIR)/$$step.$$kind; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "== make test FAILED:$$failed"; exit 1; fi; \
	if [ -n "$$skipped" ]; then echo "== make test passed, but skipped:$$skipped (see above)"; \
	else echo "== make test passed: every step ran"; fi

lint: $(STAMP)
	$(BIN)/ruff check .

format-check: $(STAMP)
	$(BIN)/ruff format --check .

# pytest with a JUnit report; afterwards $(TEST_DIR)/STEP.notes names any test it skipped.
# Keeps pytest's exit status. Use: $(call pytest_step,ARGUMENTS) in the recipe of STEP.
pytest_step = @mkdir -p $(TEST_DIR); $(1) -rs --junitxml=$(TEST_DIR)/$@.xml; status=$$?; \
	$(PY) -m tools.skipped_tests $(TEST_DIR)/$@.xml > $(TEST_DIR)/$@.notes; exit $$status

unit: $(STAMP)
ifneq ($(TESTS),)
	$(call pytest_step,$(BIN)/pytest tests)
else
	@mkdir -p $(TEST_DIR); echo "no tests/test_*.py yet" | tee $(TEST_DIR)/$@.skipped
endif

# The tests that drive chromium skip (with a note for make test's summary) where Debian's
# chromium is not installed (apt-get install chromium chromium-driver; .ci/run does this);
# the checks of `make app` and the short load test run everywhere.
browser: $(STAMP)
	$(call pytest_step,$(BIN)/pytest tests -m "browser or load")

# Re-runs every notebook (and README.ipynb) in a fresh kernel and compares the text outputs
# with the saved ones. nbval-one-thread does it again with one BLAS/OpenMP thread, set in the
# environment of that run only: other kernels, other summation orders, so an output that
# depends on rounding shows up on any machine. (To try more paths by hand:
# OPENBLAS_CORETYPE=Sandybridge or Haswell make nbval; never set it here or in CI.)
NBVAL = $(BIN)/pytest --nbval $(NBVAL_NOTEBOOKS) --nbval-sanitize-with tools/nbval_sanitize.cfg
ONE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

nbval: $(STAMP)
ifneq ($(NBVAL_NOTEBOOKS),)
	$(call pytest_step,$(NBVAL))
else
	@mkdir -p $(TEST_DIR); echo "no notebooks yet" | tee $(TEST_DIR)/$@.skipped
endif

nbval-one-thread: $(STAMP)
ifneq ($(NBVAL_NOTEBOOKS),)
	$(call pytest_step,$(ONE_THREAD) $(NBVAL))
else
	@mkdir -p $(TEST_DIR); echo "no notebooks yet" | tee $(TEST_DIR)/$@.skipped
endif

check-docs: $(STAMP)
	$(PY) -m tools.check_docs

# Every chapter re-run with other values of the knobs in its `parameters` cell (the cell's
# "tinker" metadata lists them; the first is the short form's), executed copies in
# build/tinker/, never over the committed notebooks; fails on any cell that raises, except a
# clear ValueError the entry declares. Prints the time per chapter; chapters without a
# parameters cell are skipped with a note. See tools/tinker.py.
.PHONY: tinker tinker-short
tinker: $(STAMP)
	$(PY) -m tools.tinker

tinker-short: $(STAMP)
	@mkdir -p $(TEST_DIR); $(PY) -m tools.tinker --short --notes $(TEST_DIR)/$@.notes

## Using the course ---------------------------------------------------------------------

bench: $(STAMP)
	$(PY) -m bench.bench_em

# Jupyter refuses to run as root without --allow-root (containers, CI machines).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Voila's default kernel manager (the async one), as gmm/app_kernels.py's AppKernelManager: it
# gives a kernel just taken from the pool the full idle time to meet its page. Culling: a kernel whose
# page is gone (no websocket left: closed, reloaded) and idle for 120 s is shut down, checked
# every 30 s; an open page keeps its kernel however long it sits idle. Preheated kernels:
# Voila keeps APP_POOL kernels that have already run the app (never culled while they wait)
# and hands one to each new page, starting a replacement 15 s later (fill_delay: a class
# arriving at once gets its pages before the refill takes the cores; iopub_timeout: a kernel
# running the app on busy cores may send a widget after its cell's reply, and nbclient's
# default 4 s drops it, leaving a page without its fit explorer). Each waiting
# kernel holds about 200 MB; a class arriving at once needs one per student, and those
# beyond the pool wait for a kernel to start and run the app (3-4 s of CPU each on this
# 2-core machine, all of them sharing the cores). APP_ENV: one BLAS thread per kernel (two
# spinning threads per kernel cost half the CPU of a slider move). The same options and
# environment as bench/load_test.py's APP_OPTIONS, APP_ENV (tests/test_explorer_browser.py
# checks).
APP_POOL := 20
APP_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
APP_OPTIONS := \
	--VoilaConfiguration.multi_kernel_manager_class=gmm.app_kernels.AppKernelManager \
	--MappingKernelManager.cull_idle_timeout=120 \
	--MappingKernelManager.cull_interval=30 \
	--MappingKernelManager.cull_connected=False \
	--preheat_kernel=True \
	--VoilaKernelManager.fill_delay=15 \
	--VoilaExecutor.iopub_timeout=60

app: $(STAMP)
	$(APP_ENV) $(BIN)/voila $(APP_NOTEBOOK) --no-browser --Voila.ip=127.0.0.1 --port=$(APP_PORT) \
		$(APP_OPTIONS) --pool_size=$(APP_POOL)

# USERS simulated users on the app (APP_POOL preheated kernels): they open their pages all in
# the same second, then two at a time, and move a slider every 2 s for a minute; writes
# bench/results/load_test.md (its short form runs in `make test`).
USERS := 10
.PHONY: load-test
load-test: $(STAMP)
	$(PY) -m bench.load_test --users $(USERS) --pool $(APP_POOL)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis dask-worker-space
	find . -path ./.git -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-prune -exec rm -rf {} +

help:
	@sed -n 's/^#   //p' Makefile
