"""Benchmarks that print figures: ``python bench/engine.py [--quick]`` (see bench/RESULTS.md)."""
