"""Benchmarks: commands that print figures (ARCHITECTURE.md §8). Tests never assert times."""
