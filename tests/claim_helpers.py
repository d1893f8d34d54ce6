"""Helpers for the claim tests: a member with a policy, submitting, uploading documents through the pre-signed POST
(to moto's S3), staff headers, and reading stored items."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from chalicelib.adapters.clock import CHINA_TZ

NOW = datetime(2021, 11, 1, 10, 0, tzinfo=CHINA_TZ)  # a Monday; 15 working days later is 2021-11-22
BILL = {"service_date": "2021-10-20", "setting": "inpatient", "in_policy_after_catastrophic_fen": 3_000_000,
        "self_pay_fen": 5_000_000}  # W1: 46,500.00 yuan from a zero year-to-date state
W1_PAYOUT = 4_650_000
PAYEE = {"account_name": "王小明", "bank_name": "中国工商银行丽水分行", "account_number": "6222021234561234"}
PDF = b"%PDF-1.4 test settlement slip\n" * 10


def policy_for(member, **fields) -> str:
    from tests.helpers import write_policy

    return write_policy(member.id_number, member.name, member.account_id, benefit_start="2021-07-16",
                        coverage_end="2021-12-31", **fields)


def call(client, method: str, path: str, headers: dict, body=None, key: str | None = None):
    headers = dict(headers)
    headers.setdefault("Content-Type", "application/json")
    if key is not None:
        headers["Idempotency-Key"] = key
    data = json.dumps(body) if body is not None else None
    response = getattr(client.http, method.lower())(path, headers=headers, body=data)
    return response.status_code, (json.loads(response.body) if response.body else None)


def submit(client, headers, policy_id: str, bills=None, payee=None, key: str | None = None):
    body = {"policy_id": policy_id, "bills": bills or [BILL], "payee": payee or PAYEE}
    return call(client, "POST", "/v1/claims", headers, body, key=key or uuid.uuid4().hex)


def add_document(client, headers, claim_id: str, kind: str, content: bytes = PDF,
                 content_type: str = "application/pdf", declared_size: int | None = None):
    return call(client, "POST", f"/v1/claims/{claim_id}/documents", headers,
                {"kind": kind, "content_type": content_type, "size_bytes": declared_size or len(content)})


def post_form(upload: dict, content: bytes, content_type: str):
    """What the phone does: a multipart POST of the form fields and the file straight to S3."""
    import requests

    return requests.post(upload["url"], data=upload["fields"], files={"file": ("doc", content, content_type)},
                         timeout=10)


def upload(client, headers, claim_id: str, kind: str, content: bytes = PDF, content_type: str = "application/pdf",
           uploaded_type: str | None = None, declared_size: int | None = None):
    """Declare, upload through the pre-signed POST, verify; returns the verification's (status, body)."""
    status, doc = add_document(client, headers, claim_id, kind, content, content_type, declared_size)
    assert status == 201, doc
    form = doc["upload"]
    if uploaded_type is not None:  # a client that ignores the form's Content-Type (the local S3 does not refuse it)
        form = {**form, "fields": {**form["fields"], "Content-Type": uploaded_type}}
    sent = post_form(form, content, uploaded_type or content_type)
    assert sent.status_code in (200, 201, 204), sent.text
    return call(client, "POST", f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify", headers)


def complete(client, headers, claim_id: str) -> None:
    for kind in ("invoice", "settlement_slip"):
        status, body = upload(client, headers, claim_id, kind)
        assert (status, body["status"]) == (200, "verified"), body


def staff(role: str = "claims_reviewer", staff_id: str | None = None) -> dict:
    from chalicelib.api.auth import issue_staff_token

    return {"Authorization": f"Bearer {issue_staff_token(staff_id or f'staff-{role}', role)}",
            "Content-Type": "application/json"}


def review(client, claim_id: str, decision: str, role: str = "claims_reviewer", **body):
    return call(client, "POST", f"/v1/admin/claims/{claim_id}/review", staff(role), {"decision": decision, **body})


def pay(client, claim_id: str, key: str | None = None, role: str = "insurer_admin"):
    return call(client, "POST", f"/v1/admin/claims/{claim_id}/pay", staff(role), key=key or uuid.uuid4().hex)


def stored_claim(claim_id: str) -> dict:
    from chalicelib import deps
    from chalicelib.adapters import keys

    return deps.table().get(keys.claim(claim_id))


def stored_policy(policy_id: str) -> dict:
    from chalicelib import deps
    from chalicelib.adapters import keys

    return deps.table().get(keys.policy(policy_id))
