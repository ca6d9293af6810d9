"""The course's build tools, run as modules from the repository root:
``python -m tools.build_notebooks``, ``python -m tools.check_docs``,
``python -m tools.skipped_tests`` (the Makefile's recipes)."""
