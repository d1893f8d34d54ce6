"""DynamoDB round trips of the claim flow, route by route, through chalice.test.Client inside moto.

Submit, verify a document (the one that completes the claim), review (approve) and pay are each driven over the
whole route for a series of identical claims; the DynamoDB calls of every request are counted with a before-call
hook on the table's client (S3 and the notifier are not DynamoDB calls). Goal: one write transaction per state
change — submit, review and pay each exactly one TransactWriteItems and no other write. Also p50 per route.
"""
from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections import Counter
from datetime import datetime

CLAIMS = int(os.environ.get("BENCH_CLAIMS", "15"))
WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
BILL = {"service_date": "2021-10-20", "setting": "inpatient", "in_policy_after_catastrophic_fen": 3_000_000,
        "self_pay_fen": 5_000_000}
PAYEE = {"account_name": "王小明", "bank_name": "中国工商银行", "account_number": "6222021234561234"}
PDF = b"%PDF-1.4 bench\n" * 50


def _member_with_policy() -> tuple[dict[str, str], str]:
    """An account bound to a person and that person's policy, written as docs/access-patterns.md shapes them."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.api.auth import issue_member_token

    table, cipher = deps.table(), deps.cipher()
    account_id, policy_id = uuid.uuid4().hex, "P" + uuid.uuid4().hex[:20].upper()
    person_hash = cipher.lookup_hash(account_id)
    table.put({**keys.account(account_id), "account_id": account_id, "person_hash": person_hash})
    table.put({**keys.identity_binding(person_hash), "account_id": account_id})
    table.put({**keys.policy(policy_id), "policy_id": policy_id, "plan_id": "lishui-2021",
               "insured_hash": person_hash, "insured_name": "王小明", "payer_account_id": account_id,
               "status": "active", "benefit_start": "2021-07-16", "coverage_end": "2021-12-31",
               "ytd_deductible_used_fen": 0, "ytd_eligible_fen": 0, "ytd_paid_fen": 0, "version": 1})
    token = issue_member_token(account_id)[0]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, policy_id


def measure() -> tuple[dict[str, Counter], dict[str, float]]:
    from bench.engine import _Env

    with _Env():
        import boto3
        import moto
        import requests

        with moto.mock_aws():
            from chalice.test import Client

            from chalicelib import deps
            from chalicelib.adapters import schema
            from chalicelib.adapters.clock import CHINA_TZ
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.api.auth import issue_staff_token
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            schema.ensure_bucket(boto3.client("s3", region_name="cn-north-1"), os.environ["HMB_BUCKET"])
            from app import app

            deps.clock().set(datetime(2021, 11, 1, 10, 0, tzinfo=CHINA_TZ))
            calls: Counter = Counter()
            deps.table().client.meta.events.register("before-call.dynamodb.*",
                                                      lambda model, **_: calls.update([model.name]))
            reviewer = {"Authorization": f"Bearer {issue_staff_token('bench-reviewer', 'claims_reviewer')}",
                        "Content-Type": "application/json"}
            admin = {"Authorization": f"Bearer {issue_staff_token('bench-admin', 'insurer_admin')}",
                     "Content-Type": "application/json"}
            per_route: dict[str, list[Counter]] = {}
            times: dict[str, list[float]] = {}

            with Client(app, stage_name="local") as client:
                def timed(route: str, method: str, path: str, headers: dict, body=None) -> dict:
                    calls.clear()
                    started = time.perf_counter()
                    resp = getattr(client.http, method)(path, headers=headers,
                                                        body=json.dumps(body) if body is not None else None)
                    times.setdefault(route, []).append((time.perf_counter() - started) * 1000)
                    per_route.setdefault(route, []).append(Counter(calls))
                    if resp.status_code >= 300:
                        raise RuntimeError(f"{route} answered {resp.status_code}: {resp.body[:300]!r}")
                    return json.loads(resp.body)

                for _ in range(CLAIMS):
                    headers, policy_id = _member_with_policy()
                    claim = timed("submit", "post", "/v1/claims", {**headers, "Idempotency-Key": uuid.uuid4().hex},
                                  {"policy_id": policy_id, "bills": [BILL], "payee": PAYEE})
                    claim_id = claim["claim_id"]
                    for kind in ("invoice", "settlement_slip"):
                        doc = timed("add document", "post", f"/v1/claims/{claim_id}/documents", headers,
                                    {"kind": kind, "content_type": "application/pdf", "size_bytes": len(PDF)})
                        form = doc["upload"]
                        requests.post(form["url"], data=form["fields"], files={"file": ("d", PDF)}, timeout=10)
                        route = "verify (completing)" if kind == "settlement_slip" else "verify"
                        timed(route, "post", f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify", headers)
                    timed("review (approve)", "post", f"/v1/admin/claims/{claim_id}/review", reviewer,
                          {"decision": "approve"})
                    timed("pay", "post", f"/v1/admin/claims/{claim_id}/pay",
                          {**admin, "Idempotency-Key": uuid.uuid4().hex})
            deps.reset(), reset_clients(), reset_settings()
    for route, counts in per_route.items():
        if any(c != counts[0] for c in counts):
            raise RuntimeError(f"round trips of {route} differ between identical claims")
    return {route: counts[0] for route, counts in per_route.items()}, \
        {route: statistics.median(samples) for route, samples in times.items()}


def run() -> dict[str, str]:
    counts, medians = measure()
    rows: dict[str, str] = {}
    for route in ("submit", "add document", "verify", "verify (completing)", "review (approve)", "pay"):
        calls = counts[route]
        writes = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()) if op in WRITES) or "none"
        breakdown = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        rows[f"claim {route}: DynamoDB round trips"] = f"{sum(calls.values())} ({breakdown})"
        rows[f"claim {route}: writes (goal: one TransactWriteItems)"] = writes
        rows[f"claim {route}: p50, in-process moto"] = f"{medians[route]:.1f} ms"
    return rows
