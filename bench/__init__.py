"""`python -m bench` (or `make bench`): the cost of every tool call against the bare SDK and the raw query.

See docs/benchmarks.md for what is measured, the targets, and the latest figures.
"""
