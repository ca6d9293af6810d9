"""Shared test setup: a non-interactive matplotlib backend, so no test can open a window."""

import matplotlib

matplotlib.use("Agg")
