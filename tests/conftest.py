"""Shared test setup: a non-interactive matplotlib backend, so no test can open a window; and
the markers of the slow tests (registered in pyproject.toml), which plain ``pytest`` leaves out:
``pytest -m browser`` or ``-m load`` runs them (``make browser`` runs both)."""

import matplotlib
import pytest

matplotlib.use("Agg")

# Every test of these files drives a Voila server and headless Chromium.
BROWSER_FILES = {"test_explorer_browser.py"}
# Simulated users on the app: the short form of `make load-test`.
LOAD_TESTS = {"test_explorer_browser.py::test_a_few_users_each_see_only_their_own_figures"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        file = item.path.name
        if file in BROWSER_FILES:
            item.add_marker(pytest.mark.browser)
        if f"{file}::{item.originalname}" in LOAD_TESTS:
            item.add_marker(pytest.mark.load)
