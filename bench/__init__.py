"""Benchmarks: `make bench` (python -m bench). Never shipped to Lambda; never part of `make test`.

Kept import-free: the cold-start child imports this package before its clock starts.
"""
