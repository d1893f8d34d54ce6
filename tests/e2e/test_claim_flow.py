"""e2e: from estimate to paid claim over HTTP against `make run` — a daughter claims for her father with his
`claims` authorisation, uploads the invoice and settlement slip to the local S3 through the pre-signed POST, staff
review and pay, and the policy's year-to-date state then makes the next estimate right."""
from __future__ import annotations

import uuid
from datetime import date

import pytest
import requests

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

BILL = {"service_date": "2021-05-01", "setting": "inpatient", "in_policy_after_catastrophic_fen": 3_000_000,
        "self_pay_fen": 5_000_000}  # W1
SLIP = b"%PDF-1.4 settlement slip of 2021-05-01\n" * 20


def set_clock(api, when: str) -> None:
    assert api.put("/sandbox/clock", {"now": when}).status == 200


def staff(api, role: str) -> dict[str, str]:
    issued = api.post("/sandbox/staff-token", {"role": role})
    assert issued.status in (200, 201), issued.body
    return {"Authorization": f"Bearer {issued.body['token']}"}


def insured_with_policy(api, phone: str, seq: int) -> str:
    """A father on the simulated 医保 platform buys lishui-2021 in the window from his personal account."""
    id_number = make_test_id("331102", date(1955, 3, 3), seq)
    assert api.post("/sandbox/people", {"name": "王建国", "id_number": id_number, "city": "331100",
                                        "basic_type": "employee", "status": "active", "basic_start": "2000-01-01",
                                        "account_current_fen": 50_000}).status == 201
    login_by_sms(api, phone)
    assert api.put("/v1/me/identity", {"name": "王建国", "id_number": id_number}).status == 200
    order = api.post("/v1/orders", {"plan_id": "lishui-2021", "insured": ["self"],
                                    "payment_method": "personal_account", "auto_renew": False},
                     headers={"Idempotency-Key": uuid.uuid4().hex})
    assert order.status == 201 and order.body["status"] == "paid", order.body
    return order.body["policies"][0]["policy_id"]


def upload(api, claim_id: str, kind: str) -> dict:
    declared = api.post(f"/v1/claims/{claim_id}/documents",
                        {"kind": kind, "content_type": "application/pdf", "size_bytes": len(SLIP)})
    assert declared.status == 201, declared.body
    form = declared.body["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("slip.pdf", SLIP, "application/pdf")},
                         timeout=10)
    assert sent.status_code in (200, 201, 204), sent.text
    verified = api.post(f"/v1/claims/{claim_id}/documents/{declared.body['document_id']}/verify")
    assert verified.status == 200 and verified.body["status"] == "verified", verified.body
    return verified.body


def test_a_proxy_claims_for_a_parent_from_estimate_to_payment(api, another_api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id = insured_with_policy(api, "13700137001", 501)
    assert api.post("/v1/authorizations", {"grantee_phone": "13700137002", "scopes": ["claims"]}).status == 201

    set_clock(api, "2021-05-10T09:00:00+08:00")  # a Monday after the stay in hospital
    daughter = another_api
    login_by_sms(daughter, "13700137002")
    estimate = daughter.post("/v1/estimates", {"policy_id": policy_id, "bills": [BILL]})
    assert (estimate.status, estimate.body["payout_fen"]) == (200, 4_650_000), estimate.body

    claim = daughter.post("/v1/claims", {"policy_id": policy_id, "bills": [BILL],
                                         "payee": {"account_name": "王建国", "bank_name": "丽水农商银行",
                                                   "account_number": "6230910299001234567"}},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert claim.status == 201, claim.body
    claim_id = claim.body["claim_id"]
    assert (claim.body["estimate_fen"], claim.body["claimant"]) == (4_650_000, "proxy")
    assert claim.body["payee"]["account_number_masked"] == "6230***********4567"

    upload(daughter, claim_id, "invoice")
    upload(daughter, claim_id, "settlement_slip")
    mine = daughter.get(f"/v1/claims/{claim_id}")
    assert mine.body["decision_due"] == "2021-05-31"  # 15 working days after Monday 2021-05-10
    stored = requests.get(mine.body["documents"][1]["download"]["url"], timeout=10)
    assert stored.content == SLIP

    reviewer, admin = staff(api, "claims_reviewer"), staff(api, "insurer_admin")
    api.token = None
    queue = api.get("/v1/admin/claims?status=submitted", headers=reviewer)
    assert claim_id in [c["claim_id"] for c in queue.body["items"]]
    assert daughter.get("/v1/admin/claims").status == 403

    approved = api.post(f"/v1/admin/claims/{claim_id}/review", {"decision": "approve", "reason": "材料齐全"},
                        headers=reviewer)
    assert (approved.status, approved.body["approved_fen"]) == (200, 4_650_000), approved.body
    paid = api.post(f"/v1/admin/claims/{claim_id}/pay", headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
    assert (paid.status, paid.body["status"], paid.body["paid_fen"]) == (200, "paid", 4_650_000), paid.body

    timeline = daughter.get(f"/v1/claims/{claim_id}").body["timeline"]
    assert [t["status"] for t in timeline] == ["submitted", "under_review", "approved", "paid"]
    policy = daughter.get(f"/v1/policies/{policy_id}")
    assert policy.body["year_to_date"] == {"deductible_used_fen": 1_800_000, "eligible_fen": 6_200_000,
                                           "paid_fen": 4_650_000}
    # the next estimate starts from there: deductible met, 2,000,000 more at 75%
    follow_up = daughter.post("/v1/estimates", {"policy_id": policy_id, "bills": [
        {"service_date": "2021-05-05", "setting": "outpatient", "self_pay_fen": 2_000_000}]})
    assert follow_up.body["payout_fen"] == 1_500_000

    notices = api.get("/sandbox/notifications?phone=13700137001").body
    assert [n["data"]["status"] for n in notices if n["template"] == "claim_status_changed"] == \
        ["submitted", "approved", "paid"]
