"""Cold-start cost: `import app` against the floor of `import boto3, chalice, pydantic`, on the same machine.

Each sample is a fresh interpreter that times its own import with perf_counter (interpreter start-up excluded).
The two kinds alternate so drift of the machine (thermal, other load) hits both alike; medians of each.
Goal: app ≤ 1.15 × floor, i.e. the app imports almost nothing beyond its framework (lazy clients, nothing at import).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "21"))
GOAL = 1.15

FLOOR = "import boto3, chalice, pydantic"
APP = "import app"
_TIMED = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["HMB_STAGE"] = "dev"  # as deployed: no sandbox routes
    return env


def time_import(stmt: str) -> float:
    out = subprocess.run([sys.executable, "-c", _TIMED.format(stmt=stmt)], cwd=PROJECT_DIR, env=_environment(),
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int = RUNS) -> tuple[list[float], list[float]]:
    time_import(FLOOR), time_import(APP)  # warm the OS file cache and byte-code caches once, untimed
    floor, app = [], []
    for i in range(runs):
        pair = [(floor, FLOOR), (app, APP)]
        for samples, stmt in pair if i % 2 == 0 else reversed(pair):
            samples.append(time_import(stmt))
    return floor, app


def eager_imports(top: int = 8) -> list[tuple[str, int]]:
    """What `import app` loads beyond the floor, by cumulative microseconds (python -X importtime)."""
    def loaded(stmt: str) -> dict[str, int]:
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", stmt], cwd=PROJECT_DIR, env=_environment(),
                             capture_output=True, text=True, check=True)
        times = {}
        for line in out.stderr.splitlines():
            if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                _, cumulative, name = line.split("|", 2)
                times[name.strip()] = int(cumulative.strip())
        return times

    base = loaded(FLOOR)
    extra = {name: us for name, us in loaded(APP).items() if name not in base and "." not in name.strip()}
    return sorted(extra.items(), key=lambda kv: -kv[1])[:top]


def run() -> dict[str, str]:
    floor, app = measure()
    floor_ms, app_ms = statistics.median(floor) * 1000, statistics.median(app) * 1000
    ratio = app_ms / floor_ms
    rows = {
        "import boto3, chalice, pydantic (median)": f"{floor_ms:.1f} ms",
        "import app (median)": f"{app_ms:.1f} ms",
        "app / floor": f"{ratio:.3f} (goal ≤ {GOAL}: {'met' if ratio <= GOAL else 'NOT met'}; "
                       f"{RUNS} alternating runs each)",
    }
    if ratio > GOAL:
        rows["eager imports beyond the floor"] = ", ".join(f"{name} {us / 1000:.1f} ms"
                                                           for name, us in eager_imports())
    return rows
