"""`python -m bench`: run every benchmark module of this package (each has `run() -> dict[str, str]`) and print
one table. `imports` runs first, the others in name order; colleagues add modules without editing this file.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench

FIRST = "imports"


def module_names() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    return sorted(names, key=lambda n: n != FIRST)


def main() -> int:
    rows: list[tuple[str, str, str]] = []
    for name in module_names():
        module = importlib.import_module(f"bench.{name}")
        if not callable(getattr(module, "run", None)):
            continue
        print(f"running bench.{name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += [(name, metric, value) for metric, value in module.run().items()]
        print(f"  done in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    width = max((len(metric) for _, metric, _ in rows), default=10)
    bench_width = max((len(name) for name, _, _ in rows), default=5)
    print(f"{'bench':<{bench_width}}  {'metric':<{width}}  value")
    print(f"{'-' * bench_width}  {'-' * width}  {'-' * 20}")
    for name, metric, value in rows:
        print(f"{name:<{bench_width}}  {metric:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
