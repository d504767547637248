"""Benchmarks: scripts that write JSON results to benchmarks/results/. Run with `make bench`."""
