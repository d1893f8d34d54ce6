"""A cold container's first answers: `import app` plus the first anonymous estimate and the first plan list, in a
fresh interpreter each run (what a member waits for after a Lambda cold start, minus the runtime's own init).

Work deferred from import (pydantic validators built on first use, plans loaded on first use) shows up here, so
this keeps the import benchmark honest."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get("BENCH_COLD_RUNS", "9"))

_SCRIPT = """
import json, time
w = time.perf_counter()
import app
imported = time.perf_counter()
from chalice.test import Client
with Client(app.app, stage_name="dev") as c:
    start = time.perf_counter()
    r = c.http.post("/v1/estimates", headers={"Content-Type": "application/json"}, body=json.dumps({
        "plan_id": "lishui-2021", "bills": [{"service_date": "2021-05-01", "setting": "inpatient",
                                             "self_pay_fen": 5000000}]}))
    estimate = time.perf_counter()
    assert r.status_code == 200, r.body
    r = c.http.get("/v1/plans")
    plans = time.perf_counter()
    assert r.status_code == 200, r.body
print(imported - w, estimate - start, plans - estimate)
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"HMB_STAGE": "dev", "HMB_TOKEN_SECRET": "bench-member-secret-of-32-bytes-x",
                "HMB_STAFF_TOKEN_SECRET": "bench-staff-secret-of-32-bytes-xx", "HMB_ID_HASH_KEY": "11" * 32,
                "HMB_ID_DATA_KEY": "22" * 32, "PYTHONPATH": PROJECT_DIR})
    return env


def sample() -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=PROJECT_DIR, env=_environment(), capture_output=True,
                         text=True, check=True)
    return tuple(float(x) for x in out.stdout.strip().splitlines()[-1].split())  # type: ignore[return-value]


def run() -> dict[str, str]:
    sample()  # warm the file and byte-code caches, untimed
    samples = [sample() for _ in range(RUNS)]
    imp, est, plans = (statistics.median(s[i] for s in samples) * 1000 for i in range(3))
    return {
        "import app (median)": f"{imp:.1f} ms",
        "first anonymous POST /v1/estimates after import (median)": f"{est:.1f} ms",
        "then first GET /v1/plans (median)": f"{plans:.1f} ms",
        "cold import + first estimate": f"{imp + est:.1f} ms ({RUNS} fresh interpreters)",
    }
