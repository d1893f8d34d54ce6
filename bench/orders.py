"""DynamoDB round trips and latency of a personal-account family order of three (self + spouse + child).

- Round trips: every botocore call the order makes, counted by operation name with a `before-call.dynamodb.*`
  event hook on the table's client. Goal: ONE TransactWriteItems issuing everything (plus the one reserving the
  Idempotency-Key with the order), and no more than one read per insured.
- Latency: p50/p95 of POST /v1/orders through chalice.test.Client inside moto (auth, strict parsing, batch reads,
  simulated 医保 platform, two transactions, response), one fresh family per request, after a warm-up. moto's
  TransactWriteItems deep-copies the whole table (to roll back), so the total grows with the table; the time
  outside moto's calls (measured with an after-call hook) is reported too.
"""
from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections import Counter
from datetime import date, datetime

ORDERS = int(os.environ.get("BENCH_ORDERS", "60"))
WARM_UP = 5
READS = ("GetItem", "BatchGetItem", "Query", "Scan")


def _family(n: int) -> tuple[dict[str, str], list[str], list[str], str]:
    """An employee payer bound to their identity, with a spouse and a child as family members (items as
    docs/access-patterns.md describes them); returns the request headers, the insured list, the ID numbers
    and the account id."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.clock import iso
    from chalicelib.api.auth import issue_member_token
    from chalicelib.domain.platform import PlatformPerson
    from chalicelib.domain.resident_id import make_test_id

    table, cipher, platform, now = deps.table(), deps.cipher(), deps.platform(), iso(deps.clock().now())
    account_id = uuid.uuid4().hex
    people = [("self", date(1980, 1, 1)), ("spouse", date(1982, 1, 1)), ("child", date(2010, 1, 1))]
    insured, id_numbers = [], []
    for role, born in people:
        id_number = make_test_id("331102", born, (n * 3 + len(insured)) % 999 + 1, female=False)
        name = f"测试{role}{n}"
        id_numbers.append(id_number)
        platform.register(PlatformPerson(id_number=id_number, name=name, city="331100", basic_type="employee",
                                         status="active"), current_fen=50000, prior_years_fen=100000)
        id_hash, id_enc = cipher.lookup_hash(id_number), cipher.encrypt(id_number, "id_number")
        if role == "self":
            table.put({**keys.account(account_id), "account_id": account_id, "created_at": now,
                       "person_hash": id_hash, "person_name": name, "id_enc": id_enc, "login_channel": "app"})
            insured.append("self")
        else:
            member_id = f"M{uuid.uuid4().hex[:20].upper()}"
            table.put({**keys.family_member(account_id, member_id), "member_id": member_id,
                       "account_id": account_id, "id_hash": id_hash, "id_enc": id_enc, "name": name,
                       "relationship": role, "created_at": now})
            insured.append(member_id)
    token = issue_member_token(account_id)[0]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, insured, id_numbers, account_id


CONCURRENT = int(os.environ.get("BENCH_CONCURRENT", "20"))


def _member(account_id: str, id_number: str, name: str, relationship: str) -> str:
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.clock import iso

    cipher, member_id = deps.cipher(), f"M{uuid.uuid4().hex[:20].upper()}"
    deps.table().put({**keys.family_member(account_id, member_id), "member_id": member_id, "account_id": account_id,
                      "id_hash": cipher.lookup_hash(id_number), "id_enc": cipher.encrypt(id_number, "id_number"),
                      "name": name, "relationship": relationship, "created_at": iso(deps.clock().now())})
    return member_id


def _race(jobs: list[tuple[str, list[str], str, str]]) -> Counter:
    """Run (account_id, insured, payment_method, key) orders at once from CONCURRENT threads; outcome → count."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib import deps
    from chalicelib.api.auth import Principal
    from chalicelib.domain.errors import DomainError
    from chalicelib.services import orders

    barrier = threading.Barrier(len(jobs))

    def place(job) -> str:
        account_id, insured, method, key = job
        barrier.wait()
        try:
            status, _ = orders.place_order(deps.order_ports(), Principal("member", account_id), "lishui-2021", insured,
                                           method, False, key, "bench-" + "-".join(insured), deps.clock().now())
            return str(status)
        except DomainError as exc:
            return f"{exc.status} {exc.code}"

    with ThreadPoolExecutor(len(jobs)) as pool:
        return Counter(pool.map(place, jobs))


def _money(id_numbers: list[str]) -> tuple[int, int]:
    from chalicelib import deps

    statements = [deps.platform().statement(i) for i in id_numbers]
    return sum(len(s["deductions"]) for s in statements), sum(len(s["refunds"]) for s in statements)


def concurrency(families: list) -> dict[str, str]:
    """The issue 9 scenarios, in-process: orders raced from CONCURRENT threads at one moment (a barrier)."""
    from chalicelib import deps
    from chalicelib.domain.platform import PlatformPerson
    from chalicelib.domain.resident_id import make_test_id

    out: dict[str, str] = {}
    _, _, ids, account = families[0]
    outcome = _race([(account, ["self"], "personal_account", uuid.uuid4().hex) for _ in range(CONCURRENT)])
    deductions, refunds = _money([ids[0]])
    out[f"{CONCURRENT} concurrent orders, one insured, different keys"] = (
        f"{deductions} deduction(s), {refunds} refund(s); answers {dict(sorted(outcome.items()))}")

    parent = make_test_id("331102", date(1950, 6, 6), 777)
    deps.platform().register(PlatformPerson(id_number=parent, name="测试父亲", city="331100", basic_type="employee",
                                            status="active"))
    payers = [families[1], families[2]]
    jobs = []
    for (_, _, _, payer_account) in payers:
        member = _member(payer_account, parent, "测试父亲", "parent")
        jobs += [(payer_account, [member], "personal_account", uuid.uuid4().hex) for _ in range(CONCURRENT // 2)]
    outcome = _race(jobs)
    deductions, refunds = _money([payer_ids[0] for _, _, payer_ids, _ in payers])
    out[f"2 payers x {CONCURRENT // 2} concurrent orders for one parent"] = (
        f"{deductions} deduction(s), {refunds} refund(s); answers {dict(sorted(outcome.items()))}")

    _, insured, _, account = families[3]
    first = _race([(account, insured[1:], "wechat_pay", uuid.uuid4().hex)])
    second = _race([(account, insured[1:2], "wechat_pay", uuid.uuid4().hex)])
    out["a second WeChat order while one is unpaid"] = f"first {dict(first)}, second {dict(second)}"

    _, insured, ids, account = families[4]
    key = uuid.uuid4().hex
    outcome = _race([(account, insured, "personal_account", key) for _ in range(CONCURRENT)])
    deductions, refunds = _money([ids[0]])
    out[f"{CONCURRENT} identical requests, one key (family of 3)"] = (
        f"{deductions} deduction(s) (current + 历年结余), {refunds} refund(s); answers "
        f"{dict(sorted(outcome.items()))}")
    return out


def measure() -> tuple[Counter, tuple, tuple, Counter, dict[str, str]]:
    from bench.engine import _Env

    with _Env():
        import boto3
        import moto

        from tools.moto_atomic import make_dynamodb_atomic

        make_dynamodb_atomic()  # as in the tests and `make run`: moto's transactions are not atomic under threads
        with moto.mock_aws():
            from chalice.test import Client

            from chalicelib import deps
            from chalicelib.adapters import schema
            from chalicelib.adapters.clock import CHINA_TZ
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            from app import app

            deps.clock().set(datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ))
            families = [_family(n) for n in range(WARM_UP + ORDERS)]
            calls: Counter = Counter()
            in_moto = {"since": 0.0, "total": 0.0}

            def before(model, **_):
                calls.update([model.name])
                in_moto["since"] = time.perf_counter()

            def after(**_):
                in_moto["total"] += time.perf_counter() - in_moto["since"]

            events = deps.table().client.meta.events
            events.register("before-call.dynamodb.*", before)
            events.register("after-call.dynamodb.*", after)
            samples, own, per_order = [], [], []
            with Client(app, stage_name="local") as client:
                for i, (headers, insured, _, _) in enumerate(families):
                    body = json.dumps({"plan_id": "lishui-2021", "insured": insured,
                                       "payment_method": "personal_account"})
                    calls.clear()
                    in_moto["total"] = 0.0
                    started = time.perf_counter()
                    resp = client.http.post("/v1/orders", body=body,
                                            headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
                    elapsed = time.perf_counter() - started
                    if resp.status_code != 201:
                        raise RuntimeError(f"order answered {resp.status_code}: {resp.body[:300]!r}")
                    if i >= WARM_UP:
                        samples.append(elapsed * 1000)
                        own.append((elapsed - in_moto["total"]) * 1000)
                        per_order.append(Counter(calls))
                headers, insured, _, _ = _family(99)
                calls.clear()
                resp = client.http.post("/v1/orders", headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                                        body=json.dumps({"plan_id": "lishui-2021", "insured": insured,
                                                         "payment_method": "wechat_pay"}))
                if resp.status_code != 201:
                    raise RuntimeError(f"WeChat order answered {resp.status_code}: {resp.body[:300]!r}")
                wechat_calls = Counter(calls)
            races = concurrency([_family(100 + n) for n in range(5)])
            deps.reset(), reset_clients(), reset_settings()
    if any(c != per_order[0] for c in per_order):
        raise RuntimeError("round trips differ between identical orders")
    cuts, own_cuts = statistics.quantiles(samples, n=100), statistics.quantiles(own, n=100)
    return per_order[0], (cuts[49], cuts[94]), (own_cuts[49], own_cuts[94]), wechat_calls, races


def run() -> dict[str, str]:
    calls, (p50, p95), (own50, own95), wechat_calls, races = measure()
    reads = sum(calls[op] for op in READS)
    breakdown = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
    return {
        "family order of 3 (personal account): DynamoDB round trips": f"{sum(calls.values())} ({breakdown})",
        "  issuing transactions (goal 1)": (f"{calls['TransactWriteItems'] - 1} + 1 reserving the key, the order "
                                            "and the 3 people"),
        "  reads (goal <= 3, one per insured)": str(reads),
        "POST /v1/orders family of 3, in-process moto p50": f"{p50:.1f} ms",
        "POST /v1/orders family of 3, in-process moto p95": f"{p95:.1f} ms",
        "  of which outside moto (our code + simulated platform) p50/p95": f"{own50:.1f} / {own95:.1f} ms",
        "family order of 3 (WeChat Pay): DynamoDB round trips": (
            f"{sum(wechat_calls.values())} ("
            + ", ".join(f"{op} {n}" for op, n in sorted(wechat_calls.items())) + "; reserve, then prepay, then store it)"),
        **races,
    }
