"""Run every benchmark (or those named) and print its table: ``python -m benchmarks [--quick] [NAME...]``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

from benchmarks.common import render, save


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in args
    names = [a for a in args if not a.startswith("-")]
    import benchmarks

    modules = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if names:
        unknown = [n for n in names if f"bench_{n}" not in modules and n not in modules]
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(m[6:] for m in modules)}")
            return 2
        modules = [m for m in modules if m in names or m[6:] in names]
    for name in modules:
        t0 = time.perf_counter()
        result = importlib.import_module(f"benchmarks.{name}").run(quick=quick)
        path = save(result) if not quick else None
        render(result)
        print(f"  ({name}: {time.perf_counter() - t0:.0f} s{'' if path is None else f', wrote {path}'})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
