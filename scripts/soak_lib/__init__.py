"""`scripts/soak`: pager killed with SIGKILL at random moments under load, then checked.

Run as `python -m soak_lib` (scripts/soak sets PYTHONPATH). Not a test: it takes minutes
and its answer is a table; tests/e2e/test_soak.py runs a short one (a few kills).
"""
