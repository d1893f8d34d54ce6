"""The benefit engine's throughput and the latency of POST /v1/estimates.

- Engine: bills per second through `compute` (pure, in-process), on a fixed, seeded mix of bills like members send
  (one to four amounts, all settings, both cities' plans), in requests of 10 bills from a zero year-to-date state.
  Measured twice: figures only (what the claims flow uses) and figures + the Chinese explanation (what the API
  returns). Goal ≥ 50 000 bills/s. Median of several timed runs, by wall clock (perf_counter) and by this process's
  CPU time (process_time): on a shared, busy machine the wall rate falls while the CPU rate stays put, and the
  share of a core the process got says how busy the machine was.
- HTTP: p50/p95 of an anonymous POST /v1/estimates with 10 bills through chalice.test.Client inside moto (the whole
  route: auth, strict parsing, engine, explanation, response model, JSON), after a warm-up.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import date, timedelta
from typing import ClassVar

GOAL_BILLS_PER_SECOND = 50_000
RUNS = int(os.environ.get("BENCH_ENGINE_RUNS", "7"))
RUN_SECONDS = float(os.environ.get("BENCH_ENGINE_RUN_SECONDS", "0.5"))
HTTP_REQUESTS = int(os.environ.get("BENCH_ESTIMATE_REQUESTS", "300"))
BILLS_PER_REQUEST = 10
PLANS = {"lishui-2021": date(2021, 1, 1), "dengfeng-2018": date(2018, 12, 1)}


def _amounts(rng: random.Random) -> dict[str, int]:
    from chalicelib.domain.plan import CATEGORIES

    picked = rng.sample(CATEGORIES, rng.randint(1, 4))
    return {c: rng.choice([rng.randint(0, 500_000), rng.randint(0, 5_000_000), rng.randint(0, 50_000_000)])
            for c in picked}


def sample_requests(count: int, seed: int = 2021) -> list[tuple[str, list[dict]]]:
    """`count` requests of 10 bills each, as JSON-shaped dicts, deterministic for a seed."""
    from chalicelib.domain.plan import SETTINGS

    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        plan_id = rng.choice(list(PLANS))
        bills = []
        for _ in range(BILLS_PER_REQUEST):
            bill = {"service_date": (PLANS[plan_id] + timedelta(days=rng.randrange(365))).isoformat(),
                    "setting": rng.choices(SETTINGS, weights=(6, 3, 1))[0]}
            bill.update({f"{c}_fen": v for c, v in _amounts(rng).items()})
            bills.append(bill)
        requests.append((plan_id, bills))
    return requests


def _engine_inputs(requests):
    from chalicelib.domain.benefits import Bill
    from chalicelib.domain.plan import CATEGORIES
    from chalicelib.plans import get_plan

    out = []
    for plan_id, bills in requests:
        out.append((get_plan(plan_id).benefits, [
            Bill(date.fromisoformat(b["service_date"]), b["setting"],
                 {c: b[f"{c}_fen"] for c in CATEGORIES if f"{c}_fen" in b}) for b in bills]))
    return out


def engine_throughput(explain: bool) -> tuple[float, float, float]:
    """Median bills/s over RUNS timed runs: by wall clock, per CPU-second, and the share of a core we got."""
    from chalicelib.domain.benefits import YearToDate, compute

    inputs = _engine_inputs(sample_requests(200))
    zero = YearToDate()
    wall, cpu, share = [], [], []
    for _ in range(RUNS + 1):  # the first run warms caches and is dropped
        bills = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < RUN_SECONDS:
            for benefits, batch in inputs:
                estimate = compute(benefits, zero, batch)
                if explain:
                    for result in estimate.bills:
                        result.explanation  # noqa: B018 — rendering is what is measured
                bills += len(batch)
        elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu_started
        wall.append(bills / elapsed)
        cpu.append(bills / cpu_used)
        share.append(cpu_used / elapsed)
    return statistics.median(wall[1:]), statistics.median(cpu[1:]), statistics.median(share[1:])


class _Env:
    """Set environment variables for the in-process API run and put everything back afterwards."""

    VALUES: ClassVar[dict[str, str]] = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
              "AWS_DEFAULT_REGION": "cn-north-1", "AWS_REGION": "cn-north-1", "HMB_STAGE": "local",
              "HMB_TABLE": "huiminbao-bench", "HMB_BUCKET": "huiminbao-bench"}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.VALUES}
        os.environ.update(self.VALUES)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def http_latency_ms() -> tuple[float, float]:
    """p50, p95 of POST /v1/estimates with 10 bills, in milliseconds."""
    with _Env():
        import boto3
        import moto

        with moto.mock_aws():
            from chalice.test import Client

            from chalicelib import deps
            from chalicelib.adapters import schema
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            from app import app

            bodies = [json.dumps({"plan_id": plan_id, "bills": bills}) for plan_id, bills in sample_requests(50)]
            headers = {"Content-Type": "application/json"}
            samples = []
            with Client(app, stage_name="local") as client:
                for i in range(20 + HTTP_REQUESTS):  # 20 warm-up requests, untimed
                    started = time.perf_counter()
                    response = client.http.post("/v1/estimates", body=bodies[i % len(bodies)], headers=headers)
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"estimate answered {response.status_code}: {response.body[:200]!r}")
                    if i >= 20:
                        samples.append(elapsed * 1000)
            deps.reset(), reset_clients(), reset_settings()
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[94]


def run() -> dict[str, str]:
    figures, figures_cpu, figures_share = engine_throughput(explain=False)
    explained, explained_cpu, explained_share = engine_throughput(explain=True)
    p50, p95 = http_latency_ms()

    def verdict(rate: float) -> str:
        return "met" if rate >= GOAL_BILLS_PER_SECOND else "NOT met"

    return {
        "engine, figures only (bills/s)": f"{figures:,.0f} wall, {figures_cpu:,.0f} per CPU-second "
                                          f"(goal ≥ {GOAL_BILLS_PER_SECOND:,}: {verdict(figures)} by wall clock; "
                                          f"{figures_share:.0%} of a core; median of {RUNS} runs)",
        "engine, figures + explanation (bills/s)": f"{explained:,.0f} wall, {explained_cpu:,.0f} per CPU-second "
                                                   f"({explained_share:.0%} of a core)",
        f"POST /v1/estimates, {BILLS_PER_REQUEST} bills, p50": f"{p50:.2f} ms",
        f"POST /v1/estimates, {BILLS_PER_REQUEST} bills, p95": f"{p95:.2f} ms ({HTTP_REQUESTS} requests in-process)",
    }
