"""Bulk enrolment (DOMAIN §10) end to end on moto, in this process: a bureau's subsidised list accepted by
services.bulk.create (screening, chunks, batch, its rows put on the job queue: the 202) and then worked row by row by
the queue's SQS worker (`jobs.drain_local`, the same handler Lambda runs) — at two sizes ten times apart.

- rows per second end to end, and our own time per row: the wall time minus the time spent inside moto's DynamoDB
  and SQS calls (before-call/after-call hooks), i.e. what the code costs without the storage simulator;
- the accepting request alone (what must fit in API Gateway's 29 s), and our time in it;
- DynamoDB requests per row by operation (goal: one BatchGetItem and one TransactWriteItems per issued row, plus the
  runner's per-message requests shared by its rows);
- cost per row at the large size over the small (goal ≤ 1.2: flat).
Sizes: BENCH_BULK_SMALL / BENCH_BULK_LARGE (default 500 / 5 000; the issue's 5 000 / 50 000 take ~10 minutes on
moto here: `BENCH_BULK_SMALL=5000 BENCH_BULK_LARGE=50000 python -m bench.bulk`).
"""
from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta

SIZES = (int(os.environ.get("BENCH_BULK_SMALL", "500")), int(os.environ.get("BENCH_BULK_LARGE", "5000")))
ACCEPTED = datetime(2021, 11, 15, 10, 0)


class _Meter:
    """Counts a client's requests and the seconds spent inside them."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.seconds = 0.0
        self._started: dict[int, float] = {}

    def attach(self, client, service: str):
        def before(model, **_):
            self.calls.update([f"{service}:{model.name}"])
            self._started[id(model)] = time.perf_counter()

        def after(model, **_):
            started = self._started.pop(id(model), None)
            if started is not None:
                self.seconds += time.perf_counter() - started

        client.meta.events.register(f"before-call.{service}.*", before)
        client.meta.events.register(f"after-call.{service}.*", after)

        def detach():
            client.meta.events.unregister(f"before-call.{service}.*", before)
            client.meta.events.unregister(f"after-call.{service}.*", after)

        return detach


def _people(size: int, offset: int) -> list[dict[str, str]]:
    from chalicelib import deps
    from chalicelib.domain.platform import PlatformPerson
    from chalicelib.domain.resident_id import make_test_id

    rows = []
    for n in range(offset, offset + size):
        number = make_test_id("331102", date(1940, 1, 1) + timedelta(days=n // 400), (n % 400) * 2 + 1)
        deps.platform().register(PlatformPerson(id_number=number, name="张秀英", city="331100", county="331102",
                                                basic_type="resident", status="active"))
        rows.append({"name": "张秀英", "id_number": number, "group": "低保"})
    return rows


class Run:
    def __init__(self, size: int, accept_s: float, accept_meter: _Meter, total_s: float, meter: _Meter) -> None:
        self.size, self.accept_s, self.accept_meter, self.total_s, self.meter = (size, accept_s, accept_meter,
                                                                               total_s, meter)

    @property
    def ours_ms_per_row(self) -> float:
        return (self.total_s - self.meter.seconds) / self.size * 1e3


def _run(size: int, offset: int) -> Run:
    from chalicelib import deps, jobs
    from chalicelib.adapters.clock import CHINA_TZ
    from chalicelib.domain.bulk import BatchRequest
    from chalicelib.domain.principal import Principal
    from chalicelib.services import bulk

    rows = _people(size, offset)
    principal = Principal("staff", "bench-bureau", "bureau", ("331100",))
    body = {"plan_id": "lishui-2022", "funding": "subsidy", "payer": {"name": "莲都区人民政府", "county": "331102"},
            "rows": rows}
    request = BatchRequest.model_validate(body)  # as the route hands it over, parsed before the clock starts
    accept_meter, meter = _Meter(), _Meter()
    detach = [m.attach(c, name) for m in (accept_meter, meter)
              for c, name in ((deps.table().client, "dynamodb"), (deps.job_queue().client, "sqs"))]
    started = time.perf_counter()
    status, answer = bulk.create(deps.bulk_ports(), principal, request, uuid.uuid4().hex, uuid.uuid4().hex,
                                 ACCEPTED.replace(tzinfo=CHINA_TZ))
    accepted = time.perf_counter()
    for d in detach[:2]:
        d()
    jobs.drain_local()  # the queue's worker, as Lambda runs it
    total = time.perf_counter() - started
    for d in detach[2:]:
        d()
    counts = deps.bulk_ports().batches.counts(answer["batch_id"])
    if status != 202 or counts.issued != size:
        raise RuntimeError(f"the list did not issue cleanly: {status} {answer} {counts}")
    return Run(size, accepted - started, accept_meter, total, meter)


def measure() -> dict:
    from bench.engine import _Env

    with _Env():
        for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
            os.environ.pop(name, None)
        import boto3
        import moto

        from tools.moto_atomic import make_dynamodb_atomic

        make_dynamodb_atomic()
        with moto.mock_aws():
            from chalicelib import deps
            from chalicelib.adapters import job_queue, schema
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), job_queue.reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            small, large = SIZES
            _run(50, 0)  # warm-up
            runs = {small: _run(small, 50), large: _run(large, 50 + small)}
            deps.reset(), reset_clients(), job_queue.reset_clients(), reset_settings()
    return runs


def run() -> dict[str, str]:
    runs = measure()
    rows: dict[str, str] = {}
    for size, r in runs.items():
        rows[f"list of {size:,} rows: wall time, rows/s"] = f"{r.total_s:.1f} s, {size / r.total_s:.0f} rows/s"
        rows[f"list of {size:,} rows: our time per row (excluding moto)"] = f"{r.ours_ms_per_row:.2f} ms"
        ours_accept = r.accept_s - r.accept_meter.seconds
        rows[f"list of {size:,} rows: the accepting request (202)"] = (
            f"{r.accept_s:.1f} s, of which ours {ours_accept:.1f} s ({ours_accept / size * 1e3:.3f} ms/row)")
    small, large = SIZES
    rows[f"our cost per row ratio {large:,} / {small:,} rows (goal ≤ 1.2)"] = (
        f"{runs[large].ours_ms_per_row / runs[small].ours_ms_per_row:.2f}")
    meter = runs[large].meter
    ddb = {k.split(":")[1]: n for k, n in meter.calls.items() if k.startswith("dynamodb:")}
    sqs = sum(n for k, n in meter.calls.items() if k.startswith("sqs:"))
    rows["DynamoDB requests per row"] = (f"{sum(ddb.values()) / large:.2f} ("
                                         + ", ".join(f"{k} {n / large:.3f}" for k, n in sorted(ddb.items())) + ")")
    rows["SQS requests per row"] = f"{sqs / large:.3f}"
    return rows


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric}: {value}")
