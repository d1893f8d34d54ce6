"""Cold-start cost: `import app` against the floor of `import boto3, chalice, pydantic`, on the same machine.

Each sample is a fresh interpreter that times its own import (interpreter start-up excluded), both wall clock
(perf_counter) and CPU time of the process (process_time: steadier when the machine is shared). The two kinds
alternate so drift of the machine (thermal, other load) hits both alike; medians of each.
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
_TIMED = ("import time; w, c = time.perf_counter(), time.process_time(); {stmt}; "
          "print(time.perf_counter() - w, time.process_time() - c)")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["HMB_STAGE"] = "dev"  # as deployed: no sandbox routes
    return env


def time_import(stmt: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `stmt` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _TIMED.format(stmt=stmt)], cwd=PROJECT_DIR, env=_environment(),
                         capture_output=True, text=True, check=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure(runs: int = RUNS) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    time_import(FLOOR), time_import(APP)  # warm the OS file cache and byte-code caches once, untimed
    floor, app = [], []
    for i in range(runs):
        pair = [(floor, FLOOR), (app, APP)]
        for samples, stmt in pair if i % 2 == 0 else reversed(pair):
            samples.append(time_import(stmt))
    return floor, app


def eager_imports(top: int = 8) -> list[tuple[str, int]]:
    """Modules `import app` loads beyond the floor, by their own (self) microseconds (python -X importtime)."""
    def loaded(stmt: str) -> dict[str, int]:
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", stmt], cwd=PROJECT_DIR, env=_environment(),
                             capture_output=True, text=True, check=True)
        times = {}
        for line in out.stderr.splitlines():
            if line.startswith("import time:") and "cumulative" not in line:
                self_us, _, name = line[len("import time:"):].split("|", 2)
                times[name.strip()] = int(self_us.strip())
        return times

    base = loaded(FLOOR)
    extra = {name: us for name, us in loaded(APP).items() if name not in base}
    return sorted(extra.items(), key=lambda kv: -kv[1])[:top]


def run() -> dict[str, str]:
    floor, app = measure()
    rows: dict[str, str] = {}
    met = True
    for i, clock in enumerate(("wall", "CPU")):
        floor_ms = statistics.median(sample[i] for sample in floor) * 1000
        app_ms = statistics.median(sample[i] for sample in app) * 1000
        ratio = app_ms / floor_ms
        met = met and ratio <= GOAL
        rows[f"import boto3, chalice, pydantic ({clock}, median)"] = f"{floor_ms:.1f} ms"
        rows[f"import app ({clock}, median)"] = f"{app_ms:.1f} ms"
        rows[f"app / floor ({clock})"] = f"{ratio:.3f} (goal ≤ {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})"
    rows["runs"] = f"{RUNS} alternating runs of each, HMB_STAGE=dev (no sandbox routes)"
    if not met:
        rows["eager imports beyond the floor"] = ", ".join(f"{name} {us / 1000:.1f} ms"
                                                           for name, us in eager_imports())
    return rows
