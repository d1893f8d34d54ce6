"""e2e over `make run` (#13, the claim loop): the same bill claimed by hand again after it was paid is refused at
submission, and staff ask for more information on a claim still missing its documents, which returns to review
once the member uploads them."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_claim_flow import BILL, insured_with_policy, set_clock, staff, upload

pytestmark = pytest.mark.e2e

PAYEE = {"account_name": "王建国", "bank_name": "丽水农商银行", "account_number": "6230910299001234567"}


def claim(api, policy_id: str, bills=None):
    return api.post("/v1/claims", {"policy_id": policy_id, "bills": bills or [BILL], "payee": PAYEE},
                    headers={"Idempotency-Key": uuid.uuid4().hex})


def test_the_same_bill_claimed_by_hand_after_payment_is_409_at_submission(api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id = insured_with_policy(api, "13700137101", 511)
    set_clock(api, "2021-05-10T09:00:00+08:00")
    first = claim(api, policy_id)
    assert first.status == 201, first.body
    upload(api, first.body["claim_id"], "invoice")
    upload(api, first.body["claim_id"], "settlement_slip")
    member_token, api.token = api.token, None
    reviewer, admin = staff(api, "claims_reviewer"), staff(api, "insurer_admin")
    assert api.post(f"/v1/admin/claims/{first.body['claim_id']}/review", {"decision": "approve"},
                    headers=reviewer).status == 200
    assert api.post(f"/v1/admin/claims/{first.body['claim_id']}/pay",
                    headers={**admin, "Idempotency-Key": uuid.uuid4().hex}).status == 200
    api.token = member_token

    again = claim(api, policy_id)
    assert (again.status, again.body["code"], again.body["details"]["other_claim_id"]) == \
        (409, "CLAIM_BILL_ALREADY_PAID", first.body["claim_id"]), again.body
    assert [c["claim_id"] for c in api.get("/v1/claims").body] == [first.body["claim_id"]]


def test_staff_ask_for_more_on_an_incomplete_claim_and_the_uploads_resume_its_review(api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id = insured_with_policy(api, "13700137102", 512)
    set_clock(api, "2021-05-10T09:00:00+08:00")
    submitted = claim(api, policy_id)
    assert submitted.status == 201, submitted.body
    claim_id = submitted.body["claim_id"]
    assert (submitted.body["decision_due"], submitted.body["missing_documents"]) == \
        (None, ["invoice", "settlement_slip"])

    member_token, api.token = api.token, None
    asked = api.post(f"/v1/admin/claims/{claim_id}/review",
                     {"decision": "need_more_info", "reason": "请上传发票和医保结算单"},
                     headers=staff(api, "claims_reviewer"))
    assert (asked.status, asked.body["status"]) == (200, "need_more_info"), asked.body
    api.token = member_token

    mine = api.get(f"/v1/claims/{claim_id}").body
    assert (mine["status"], mine["member_note"], mine["decision_due"]) == \
        ("need_more_info", "请上传发票和医保结算单", None)
    upload(api, claim_id, "invoice")
    upload(api, claim_id, "settlement_slip")
    mine = api.get(f"/v1/claims/{claim_id}").body
    assert (mine["status"], mine["decision_due"], mine["missing_documents"]) == ("under_review", "2021-05-31", [])
