"""免申即享 (DOMAIN §11) end to end on moto, in this process: settlement records published by the simulated 医保
platform, read by the `settlement_feed` job through the fan-out queue and its SQS worker, each one an automatic
claim approved and paid by the system through the simulated payout gateway — at two sizes ten times apart.

- records per second end to end, and our own time per record: the wall time minus the time spent inside moto's
  DynamoDB and SQS calls (before-call/after-call hooks), i.e. what the code costs without the storage simulator
  (the simulated platform and payout gateway are in-process and counted as ours — a small overstatement);
- DynamoDB requests per automatic claim by operation;
- cost per record at the large size over the small (goal ≤ 1.2: flat).
Sizes: BENCH_SETTLEMENTS_SMALL / BENCH_SETTLEMENTS_LARGE (default 200 / 2 000; moto answers a GSI query by walking the index, so wall time per record grows with the table while ours stays flat).
"""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import date, datetime, timedelta

SIZES = (int(os.environ.get("BENCH_SETTLEMENTS_SMALL", "200")),
         int(os.environ.get("BENCH_SETTLEMENTS_LARGE", "2000")))
NOW = datetime(2021, 11, 1, 10, 0)
W1 = {"in_policy_after_catastrophic_fen": 3_000_000, "self_pay_fen": 5_000_000}  # 46 500.00 yuan each


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


def _insured(size: int, offset: int) -> None:
    """`size` people with a lishui-2021 policy each and a social-security-card account; one record each."""
    from chalicelib import deps
    from chalicelib.adapters.clock import CHINA_TZ
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.domain.platform import PlatformPerson, Settlement, SscAccount
    from chalicelib.domain.policy import Policy
    from chalicelib.domain.resident_id import make_test_id

    cipher, platform, policies = deps.cipher(), deps.platform(), PolicyRepository(deps.table())
    for n in range(offset, offset + size):
        number = make_test_id("331102", date(1950, 1, 1) + timedelta(days=n // 400), (n % 400) * 2 + 1)
        platform.register(PlatformPerson(id_number=number, name="王建国", city="331100", county="331102",
                                         basic_type="employee", status="active",
                                         ssc_account=SscAccount(bank_name="丽水农商银行",
                                                                account_number=f"62309102{n:011d}")))
        policies.save(Policy(policy_id=f"PB{n:010d}", plan_id="lishui-2021", order_id=f"OB{n:010d}",
                             insured_hash=cipher.lookup_hash(number), insured_name="王建国",
                             insured_id_enc=cipher.encrypt(number, "id_number"), payer_account_id=f"acc-{n}",
                             payment_method="personal_account", premium_fen=9_900, paid_at="2021-07-01T10:00:00+08:00",
                             benefit_start="2021-07-16", coverage_end="2021-12-31", waiting_rule="window",
                             created_at="2021-07-01T10:00:00+08:00", county="331102"))
        platform.add_settlement(Settlement(settlement_id=f"SB{n:010d}", id_number=number,
                                           service_date=date(2021, 10, 20), setting="inpatient",
                                           amounts_fen={f"{k}": v for k, v in W1.items()},
                                           settled_at=datetime(2021, 10, 20, 12, tzinfo=CHINA_TZ)))


def _run(size: int, offset: int) -> tuple[float, _Meter]:
    from chalicelib import deps, jobs

    _insured(size, offset)
    meter = _Meter()
    detach = [meter.attach(deps.table().client, "dynamodb"), meter.attach(deps.job_queue().client, "sqs")]
    started = time.perf_counter()
    run = jobs.run_now("settlement_feed")
    elapsed = time.perf_counter() - started
    for d in detach:
        d()
    if run.counts.get("paid") != size:
        raise RuntimeError(f"the records were not all paid: {run.counts}")
    return elapsed, meter


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
            from chalicelib.adapters.clock import CHINA_TZ
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), job_queue.reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            deps.clock().set(NOW.replace(tzinfo=CHINA_TZ))
            small, large = SIZES
            _run(30, 0)  # warm-up
            runs = {small: _run(small, 30), large: _run(large, 30 + small)}
            deps.reset(), reset_clients(), job_queue.reset_clients(), reset_settings()
    return runs


def run() -> dict[str, str]:
    runs = measure()
    rows: dict[str, str] = {}
    ours = {}
    for size, (seconds, meter) in runs.items():
        ours[size] = (seconds - meter.seconds) / size * 1e3
        rows[f"{size:,} records → paid automatic claims: wall time, records/s"] = \
            f"{seconds:.1f} s, {size / seconds:.0f} records/s"
        rows[f"{size:,} records: our time per record (excluding moto)"] = \
            f"{ours[size]:.2f} ms ({1e3 / ours[size]:.0f} records/s)"
    small, large = SIZES
    rows[f"our cost per record ratio {large:,} / {small:,} (goal ≤ 1.2)"] = f"{ours[large] / ours[small]:.2f}"
    _, meter = runs[large]
    ddb = {k.split(":")[1]: n for k, n in meter.calls.items() if k.startswith("dynamodb:")}
    sqs = sum(n for k, n in meter.calls.items() if k.startswith("sqs:"))
    rows["DynamoDB requests per automatic claim"] = (
        f"{sum(ddb.values()) / large:.2f} (" + ", ".join(f"{k} {n / large:.2f}" for k, n in sorted(ddb.items())) + ")")
    rows["SQS requests per record"] = f"{sqs / large:.3f}"
    return rows


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric}: {value}")
