"""Benchmarks: `python -m bench [NAME ...]` prints each figure beside its baseline, same run."""
