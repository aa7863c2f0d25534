"""Benchmarks, run with `python -m bench [name ...]`; not part of the test suite.

Each `bench_<name>.py` exposes `main()`, prints its figures and their ratio against a baseline
measured in the same run (absolute numbers vary between machines; ratios travel).
"""
