"""e2e over HTTP on `make run` (issue #10 item 1): an impostor binds a person's ID, buys a policy with the person's
medical-account money and claims twice to his own bank account; staff approve both, and one transfer is already with
the bank when the real person proves who they are through the 医保 platform's proof. Neither claim is paid to the
impostor's account: the approved one is back in staff review, the one with the bank is held (never cancelled) and,
when the bank refuses it, released by the payout sweep — and the money is counted once."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_claim_flow import set_clock, staff, upload
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

NAME, PHONE_ON_RECORD, IMPOSTOR_PHONE = "赵德胜", "13800138123", "13900139123"
IMPOSTOR_ACCOUNT = "6222999900001111"
REAL_ACCOUNT = "6217000000000001"
STAY = {"service_date": "2021-05-01", "setting": "inpatient", "in_policy_after_catastrophic_fen": 3_000_000,
        "self_pay_fen": 5_000_000}  # W1: 4,650,000 fen from a zero year-to-date state
VISIT = {"service_date": "2021-05-03", "setting": "outpatient", "self_pay_fen": 2_000_000}


def claim(api, policy_id: str, bill: dict) -> str:
    filed = api.post("/v1/claims", {"policy_id": policy_id, "bills": [bill],
                                    "payee": {"account_name": "钱某", "bank_name": "某银行",
                                              "account_number": IMPOSTOR_ACCOUNT}},
                     headers={"Idempotency-Key": uuid.uuid4().hex})
    assert filed.status == 201, filed.body
    claim_id = filed.body["claim_id"]
    upload(api, claim_id, "invoice")
    upload(api, claim_id, "settlement_slip")
    return claim_id


def test_a_recovered_identity_keeps_approved_claims_from_the_impostors_account(api, another_api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    id_number = make_test_id("331102", date(1960, 6, 6), 611)
    assert api.post("/sandbox/people", {"name": NAME, "id_number": id_number, "city": "331100",
                                        "basic_type": "employee", "status": "active", "basic_start": "2000-01-01",
                                        "account_current_fen": 50_000, "phone": PHONE_ON_RECORD}).status == 201
    impostor = another_api
    login_by_sms(impostor, IMPOSTOR_PHONE)
    assert impostor.put("/v1/me/identity", {"name": NAME, "id_number": id_number}).status == 200
    order = impostor.post("/v1/orders", {"plan_id": "lishui-2021", "insured": ["self"],
                                         "payment_method": "personal_account", "auto_renew": False},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert order.status == 201 and order.body["status"] == "paid", order.body
    policy_id = order.body["policies"][0]["policy_id"]

    set_clock(api, "2021-05-10T09:00:00+08:00")
    approved_only, with_the_bank = claim(impostor, policy_id, STAY), claim(impostor, policy_id, VISIT)
    reviewer, admin = staff(api, "claims_reviewer"), staff(api, "insurer_admin")
    for claim_id in (approved_only, with_the_bank):
        decided = api.post(f"/v1/admin/claims/{claim_id}/review", {"decision": "approve"}, headers=reviewer)
        assert decided.status == 200, decided.body
    assert api.put("/sandbox/payouts/hold", {"holding": True}).status == 200  # the bank confirms later
    sent = api.post(f"/v1/admin/claims/{with_the_bank}/pay", headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
    assert (sent.status, sent.body["payout"]["status"]) == (200, "processing"), sent.body

    # the real person proves who they are and takes the ID back
    login_by_sms(api, PHONE_ON_RECORD)
    assert api.post("/v1/me/identity/proof", {"id_number": id_number}).status == 202
    code = api.get(f"/sandbox/people/{id_number}/proof").body["code"]
    recovered = api.put("/v1/me/identity", {"name": NAME, "id_number": id_number, "proof_code": code})
    assert recovered.status == 200, recovered.body

    recalled = api.get(f"/v1/admin/claims/{approved_only}", headers=admin).body
    assert (recalled["status"], recalled["approved_fen"], recalled["payee"], recalled["payout"]) == \
        ("under_review", None, None, None)
    refused = api.post(f"/v1/admin/claims/{approved_only}/pay",
                       headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
    assert (refused.status, refused.body["code"]) == (409, "CLAIM_STATE_CONFLICT")  # staff decide again first
    held = api.get(f"/v1/admin/claims/{with_the_bank}", headers=admin).body
    assert (held["status"], held["payout"]["status"], held["payee_hold"]["reason"]) == \
        ("approved", "processing", "identity_recovered")

    # the bank refuses the impostor's account; the sweep releases the held claim instead of trying again
    assert api.post("/sandbox/payouts/refusals", {"account_number": IMPOSTOR_ACCOUNT,
                                                  "code": "ACCOUNT_FROZEN"}).status in (200, 201)
    assert api.post("/sandbox/payouts/complete").status == 200
    assert api.put("/sandbox/payouts/hold", {"holding": False}).status == 200
    assert api.post("/sandbox/jobs/payout_sweep").status == 200
    released = api.get(f"/v1/admin/claims/{with_the_bank}", headers=admin).body
    assert (released["status"], released["payout"], released["payee"]) == ("under_review", None, None)
    assert api.get(f"/v1/policies/{policy_id}").body["year_to_date"]["paid_fen"] == 0  # released with it

    # staff decide again; the money goes to the person's own account, once
    assert api.put("/v1/me/payee", {"account_name": NAME, "bank_name": "中国建设银行丽水分行",
                                    "account_number": REAL_ACCOUNT}).status == 200
    for claim_id in (approved_only, with_the_bank):
        assert api.post(f"/v1/admin/claims/{claim_id}/review", {"decision": "approve"},
                        headers=reviewer).status == 200
        paid = api.post(f"/v1/admin/claims/{claim_id}/pay", headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
        assert (paid.status, paid.body["status"]) == (200, "paid"), paid.body
        assert api.get(f"/v1/admin/claims/{claim_id}", headers=admin).body["payee"]["account_number_masked"] == \
            "6217********0001"
    # as if paid once each, in order: W1 4,650,000, then the visit 2,000,000 at 75% once the deductible is met
    assert api.get(f"/v1/policies/{policy_id}").body["year_to_date"] == {
        "deductible_used_fen": 1_800_000, "eligible_fen": 8_200_000, "paid_fen": 6_150_000}
