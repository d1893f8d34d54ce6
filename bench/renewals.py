"""Auto-renewal (DOMAIN §9) on moto, in this process: consenting lishui-2021 policies, each paid by its own employee
from the personal account, noticed by the `renewal_notices` run and renewed by the `renewal_deductions` run — the real
fan-out (`jobs.run_now`: the run pages the renewal index onto the moto SQS queue, a few hundred mandates per message,
and the same SQS worker Lambda runs drains it without waiting) — at two sizes ten times apart.

- our own time per mandate: the wall time minus the time inside moto's DynamoDB and SQS calls (before-call/after-call
  hooks), i.e. what the code costs without the storage simulator (the simulated platform is in-process and counted as
  ours: its calls are dict lookups);
- DynamoDB requests per mandate by operation, for each run (goal for the deductions: ≤ 3 — the batch read amortised,
  the reservation, the issuing transaction);
- platform calls per mandate (what the 医保 platform must answer per second at a given concurrency);
- cost per mandate at the large size over the small (goal ≤ 1.2: flat).
Sizes: BENCH_RENEWAL_SMALL / BENCH_RENEWAL_LARGE (default 500 / 5 000).
The mandates are seeded straight into the table (the policy items an order issues, through the repositories), not
bought over HTTP: what is measured is the yearly run, not the purchase.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import date, datetime, timedelta

SIZES = (int(os.environ.get("BENCH_RENEWAL_SMALL", "500")), int(os.environ.get("BENCH_RENEWAL_LARGE", "5000")))
BOUGHT = datetime(2020, 12, 15, 10, 0)
NOTICE_DAY = datetime(2021, 11, 1, 9, 0)
DEDUCTION_DAY = datetime(2021, 12, 17, 3, 0)


def _seed(size: int, offset: int) -> None:
    """`size` employees, each with an account bound to their identity and a consenting lishui-2021 policy."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.clock import CHINA_TZ, iso
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.domain.platform import PlatformPerson
    from chalicelib.domain.policy import Policy
    from chalicelib.domain.resident_id import make_test_id
    from chalicelib.services.family import ID_NUMBER_CONTEXT

    table, cipher, platform = deps.table(), deps.cipher(), deps.platform()
    policies = PolicyRepository(table)
    at = iso(BOUGHT.replace(tzinfo=CHINA_TZ))
    for n in range(offset, offset + size):
        number = make_test_id("331102", date(1960, 1, 1) + timedelta(days=n // 400), (n % 400) * 2 + 1)
        platform.register(PlatformPerson(id_number=number, name="张建华", city="331100", county="331102",
                                         basic_type="employee", status="active"), current_fen=50_000)
        account_id, id_hash = f"BENCHACCT{n:08d}", cipher.lookup_hash(number)
        id_enc = cipher.encrypt(number, ID_NUMBER_CONTEXT)
        table.put({**keys.account(account_id), "account_id": account_id, "person_hash": id_hash, "id_enc": id_enc,
                   "person_name": "张建华", "login_channel": "sms", "created_at": at})
        table.put({**keys.identity_binding(id_hash), "account_id": account_id})
        consent = {"at": at, "channel": "app", "payer_account_id": account_id, "payment_method": "personal_account",
                   "account_source": "current"}
        policies.save(Policy(
            policy_id=f"POLBENCH{n:08d}01", plan_id="lishui-2021", order_id=f"ORDBENCH{n:08d}", insured_hash=id_hash,
            insured_name="张建华", insured_id_enc=id_enc, payer_account_id=account_id, payer_hash=id_hash,
            payment_method="personal_account", account_source="current", premium_fen=10_000, paid_at=at,
            benefit_start="2021-01-01", coverage_end="2021-12-31", waiting_rule="none", auto_renew=True,
            auto_renew_consent=consent, created_at=at, county="331102"))


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


class Phase:
    def __init__(self, size: int, total_s: float, meter: _Meter, platform_calls: Counter,
                 counts: dict[str, int]) -> None:
        self.size, self.total_s, self.meter, self.platform_calls, self.counts = (size, total_s, meter,
                                                                                 platform_calls, counts)

    @property
    def ours_ms(self) -> float:
        return (self.total_s - self.meter.seconds) / self.size * 1e3

    def ddb(self) -> dict[str, int]:
        return {k.split(":")[1]: n for k, n in self.meter.calls.items() if k.startswith("dynamodb:")}


def _phase(job: str, at: datetime, size: int) -> Phase:
    from chalicelib import deps, jobs
    from chalicelib.adapters.clock import CHINA_TZ

    deps.clock().set(at.replace(tzinfo=CHINA_TZ))
    platform = deps.platform()
    calls_before = Counter(platform.calls)
    meter = _Meter()
    detach = [meter.attach(deps.table().client, "dynamodb"), meter.attach(deps.job_queue().client, "sqs")]
    started = time.perf_counter()
    run = jobs.run_now(job)
    total = time.perf_counter() - started
    for d in detach:
        d()
    return Phase(size, total, meter, Counter(platform.calls) - calls_before, dict(run.counts))


def _year(size: int, offset: int) -> dict[str, Phase]:
    """One renewal year for `size` fresh mandates: the notices, then the deductions."""
    from chalicelib import deps

    _seed(size, offset)
    notices = _phase("renewal_notices", NOTICE_DAY, size)
    deductions = _phase("renewal_deductions", DEDUCTION_DAY, size)
    if notices.counts.get("noticed") != size or deductions.counts.get("renewed") != size:
        raise RuntimeError(f"the run did not renew cleanly: {notices.counts} {deductions.counts}")
    deps.platform().calls.clear()
    return {"notices": notices, "deductions": deductions}


def _fresh_world() -> None:
    """Empty table and queues between sizes: each size pages only its own mandates (the run pages every mandate of
    the plan, so the small size's renewed ones must not sit in the large size's way)."""
    import boto3

    from chalicelib import deps
    from chalicelib.adapters import job_queue, schema
    from chalicelib.adapters.dynamodb import reset_clients
    from chalicelib.config import reset_settings

    ddb = boto3.client("dynamodb", region_name="cn-north-1")
    name = os.environ["HMB_TABLE"]
    if name in ddb.list_tables()["TableNames"]:
        ddb.delete_table(TableName=name)
    sqs = boto3.client("sqs", region_name="cn-north-1")
    for url in sqs.list_queues().get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    reset_settings(), reset_clients(), job_queue.reset_clients(), deps.reset()
    schema.ensure_table(ddb, name)


def measure() -> dict[int, dict[str, Phase]]:
    from bench.engine import _Env

    with _Env():
        for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
            os.environ.pop(name, None)
        import moto

        from tools.moto_atomic import make_dynamodb_atomic

        make_dynamodb_atomic()
        with moto.mock_aws():
            from chalicelib import deps
            from chalicelib.adapters import job_queue
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            small, large = SIZES
            _fresh_world()
            _year(50, 0)  # warm-up
            years = {}
            for size, offset in ((small, 100), (large, 100 + small)):
                _fresh_world()
                years[size] = _year(size, offset)
            deps.reset(), reset_clients(), job_queue.reset_clients(), reset_settings()
    return years


def run() -> dict[str, str]:
    years = measure()
    small, large = SIZES
    rows: dict[str, str] = {}
    for size, phases in years.items():
        for name, p in phases.items():
            rows[f"{size:,} mandates, {name}: wall time, mandates/s"] = (
                f"{p.total_s:.1f} s, {size / p.total_s:.0f}/s (moto {p.meter.seconds:.1f} s)")
            rows[f"{size:,} mandates, {name}: our time per mandate (excluding moto)"] = f"{p.ours_ms:.2f} ms"
    for name in ("notices", "deductions"):
        rows[f"{name}: our cost per mandate ratio {large:,} / {small:,} (goal ≤ 1.2)"] = (
            f"{years[large][name].ours_ms / years[small][name].ours_ms:.2f}")
        p = years[large][name]
        ddb = p.ddb()
        rows[f"{name}: DynamoDB requests per mandate"] = (
            f"{sum(ddb.values()) / large:.2f} (" + ", ".join(f"{k} {n / large:.3f}" for k, n in sorted(ddb.items()))
            + ")")
        sqs = sum(n for k, n in p.meter.calls.items() if k.startswith("sqs:"))
        rows[f"{name}: SQS requests per mandate"] = f"{sqs / large:.3f}"
        rows[f"{name}: platform calls per mandate"] = (
            f"{sum(p.platform_calls.values()) / large:.2f} ("
            + ", ".join(f"{k} {n / large:.2f}" for k, n in sorted(p.platform_calls.items())) + ")")
    return rows


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric}: {value}")
