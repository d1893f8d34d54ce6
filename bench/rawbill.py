"""Raw-bill estimates (DOMAIN §12): bills per second through basic → 大病 → 惠民保, beside the slip path.

- Raw chain: `estimate_with_layers` (pure, in-process) on a fixed, seeded mix of hospital bills like members type in
  (small outpatient visits to large inpatient stays; some self-pay with negative-list and admission-list items, some
  restricted, class-B and transfer-out amounts; all settings, hospital levels and basic types the city has), in
  requests of 10 bills from a zero state, for 浙丽保 2021 and 登封 2018. Measured figures only and figures + the
  Chinese explanation. Goal ≥ 50 000 bills/s figures only, on one core.
- Slip path: `compute` on the very same bills as the settlement-slip amounts the chain left for 惠民保, so the two
  rates differ by the basic and 大病 simulation alone.
- City parameters: the cost of loading and validating them (they load on the first raw estimate, not at import).
- HTTP: p50/p95 of an anonymous POST /v1/estimates with 10 raw bills through chalice.test.Client inside moto (the
  whole route: strict parsing, the chain, the explanation, the response model, JSON), after a warm-up.
Median of several timed runs, by wall clock and per CPU-second (a shared machine lowers the first, not the second).
"""
from __future__ import annotations

import os
import random
import statistics
import time
from datetime import date, timedelta

GOAL_BILLS_PER_SECOND = 50_000
RUNS = int(os.environ.get("BENCH_RAWBILL_RUNS", "7"))
RUN_SECONDS = float(os.environ.get("BENCH_RAWBILL_RUN_SECONDS", "0.5"))
BILLS_PER_REQUEST = 10
HTTP_REQUESTS = int(os.environ.get("BENCH_ESTIMATE_REQUESTS", "300"))
PLANS = {"lishui-2021": date(2021, 1, 1), "dengfeng-2018": date(2018, 12, 1)}


def _raw_bill(rng: random.Random, start: date, basic_types: tuple[str, ...]):
    from chalicelib.domain.layers import RawBill

    in_policy = rng.choice([rng.randint(0, 50_000), rng.randint(0, 2_000_000), rng.randint(0, 40_000_000)])
    self_pay = rng.choice([0, rng.randint(0, 500_000), rng.randint(0, 10_000_000)])
    negative = rng.randint(0, self_pay // 3)
    admission = rng.randint(0, (self_pay - negative) // 3)
    restricted = rng.choice([0, 0, rng.randint(0, 300_000)])
    class_b = rng.choice([0, rng.randint(0, 1_000_000)])
    transfer_out = rng.choice([0, 0, 0, rng.randint(0, 5_000_000)])
    return RawBill(start + timedelta(days=rng.randrange(365)),
                   rng.choices(("inpatient", "outpatient", "special_outpatient"), weights=(6, 3, 1))[0],
                   rng.choice((1, 2, 3)), rng.choice(basic_types),
                   total_fen=in_policy + self_pay + restricted + class_b + transfer_out, self_pay_fen=self_pay,
                   restricted_fen=restricted, class_b_prepay_fen=class_b, transfer_out_fen=transfer_out,
                   negative_list_fen=negative, admission_list_fen=admission)


def sample_requests(count: int, seed: int = 2021):
    """`count` requests of 10 raw bills: (benefits, city, bills), deterministic for a seed."""
    from chalicelib.plans import get_plan
    from chalicelib.plans.cities import city_insurance

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        plan = get_plan(rng.choice(list(PLANS)))
        city = city_insurance(plan.city)
        basic_types = tuple(t for t in plan.eligibility.basic_types_admitted if city.basic_group(t) is not None)
        out.append((plan.benefits, city,
                    [_raw_bill(rng, PLANS[plan.plan_id], basic_types) for _ in range(BILLS_PER_REQUEST)]))
    return out


def _timed(work) -> tuple[float, float, float]:
    """Median bills/s over RUNS timed runs (the first, warming caches, dropped): wall, per CPU-second, core share."""
    wall, cpu, share = [], [], []
    for _ in range(RUNS + 1):
        bills = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < RUN_SECONDS:
            bills += work()
        elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu_started
        wall.append(bills / elapsed)
        cpu.append(bills / cpu_used)
        share.append(cpu_used / elapsed)
    return statistics.median(wall[1:]), statistics.median(cpu[1:]), statistics.median(share[1:])


def raw_throughput(explain: bool) -> tuple[float, float, float]:
    from chalicelib.domain.benefits import YearToDate
    from chalicelib.domain.layers import LayersYearToDate, estimate_with_layers

    inputs = sample_requests(200)
    zero, layers_zero = YearToDate(), LayersYearToDate()

    def work() -> int:
        n = 0
        for benefits, city, bills in inputs:
            result = estimate_with_layers(benefits, zero, city, layers_zero, bills)
            if explain:
                for b in result.layered:
                    b.explanation  # noqa: B018 — rendering is what is measured
            n += len(bills)
        return n

    return _timed(work)


def slip_throughput() -> tuple[float, float, float]:
    """The same bills as the slip amounts the chain produced, through the 惠民保 engine alone."""
    from chalicelib.domain.benefits import Bill, YearToDate, compute
    from chalicelib.domain.layers import LayersYearToDate, estimate_with_layers

    zero = YearToDate()
    inputs = []
    for benefits, city, bills in sample_requests(200):
        layered = estimate_with_layers(benefits, zero, city, LayersYearToDate(), bills).layered
        inputs.append((benefits, [Bill(b.layers.bill.service_date, b.layers.bill.setting, b.layers.slip)
                                  for b in layered]))

    def work() -> int:
        n = 0
        for benefits, slips in inputs:
            compute(benefits, zero, slips)
            n += len(slips)
        return n

    return _timed(work)


def city_load_ms() -> float:
    """Median time to read and validate every city's parameters (paid once, on the first raw estimate)."""
    from chalicelib.plans.cities import load_cities

    load_cities()  # warm the pydantic validators, as the first call in a container does once anyway
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        load_cities()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _json_bill(bill) -> dict:
    return {"service_date": bill.service_date.isoformat(), "setting": bill.setting,
            "hospital_level": bill.hospital_level, "basic_type": bill.basic_type,
            "raw": {name: getattr(bill, name) for name in (
                "total_fen", "self_pay_fen", "restricted_fen", "class_b_prepay_fen", "transfer_out_fen",
                "negative_list_fen", "admission_list_fen")}}


def http_latency_ms() -> tuple[float, float]:
    """p50, p95 of POST /v1/estimates with 10 raw bills, in milliseconds (bench.engine's environment and moto)."""
    import json

    from bench.engine import _Env
    from chalicelib.plans import get_plan

    plan_of = {get_plan(plan_id).city: plan_id for plan_id in PLANS}
    bodies = [json.dumps({"plan_id": plan_of[city.city], "bills": [_json_bill(b) for b in bills]})
              for _benefits, city, bills in sample_requests(50)]
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
    figures, figures_cpu, figures_share = raw_throughput(explain=False)
    explained, explained_cpu, explained_share = raw_throughput(explain=True)
    slip, slip_cpu, slip_share = slip_throughput()
    verdict = "met" if figures >= GOAL_BILLS_PER_SECOND else "NOT met"
    return {
        "raw bills, figures only (bills/s)": f"{figures:,.0f} wall, {figures_cpu:,.0f} per CPU-second "
                                             f"(goal ≥ {GOAL_BILLS_PER_SECOND:,}: {verdict} by wall clock; "
                                             f"{figures_share:.0%} of a core; median of {RUNS} runs)",
        "raw bills, figures + explanation (bills/s)": f"{explained:,.0f} wall, {explained_cpu:,.0f} per CPU-second "
                                                      f"({explained_share:.0%} of a core)",
        "same bills as slips, 惠民保 engine only (bills/s)": f"{slip:,.0f} wall, {slip_cpu:,.0f} per CPU-second "
                                                            f"({slip_share:.0%} of a core)",
        "city parameters load + validate (first raw estimate)": f"{city_load_ms():.2f} ms",
        f"POST /v1/estimates, {BILLS_PER_REQUEST} raw bills, p50 / p95": "{:.2f} ms / {:.2f} ms ({} requests "
                                                                       "in-process)".format(*http_latency_ms(),
                                                                                            HTTP_REQUESTS),
    }
