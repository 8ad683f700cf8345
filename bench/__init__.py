"""Benchmarks: ``python -m bench`` runs every registered one, ``python -m bench NAME [options]`` one of them.

Results are printed as a table and saved as JSON under ``bench/results/``.
"""
