"""fleetsre benchmarks: ``python -m benchmarks`` runs every ``bench_*.py`` and prints their tables.

Each module exposes ``run(quick: bool = False) -> BenchResult``; results are written as JSON to
``benchmarks/results/<name>.json`` so the latest numbers live in the repository.
"""
