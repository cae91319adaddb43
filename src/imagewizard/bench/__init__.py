"""Benchmarking restoration methods on image sets."""
