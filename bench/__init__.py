"""Benchmarks: each module's `run()` returns `Result` rows; `python -m bench` prints one table."""
