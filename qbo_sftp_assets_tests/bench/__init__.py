"""Benchmarks (`make bench`): figures as ratios against a peer run in the same process or run."""
