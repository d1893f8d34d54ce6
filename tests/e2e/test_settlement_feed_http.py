"""e2e over `make run` (#13, 免申即享): settlement records pushed to the simulated 医保 platform — in the sandbox shape
and in the national 2304 shape — become paid automatic claims when the `settlement_feed` job runs, with DOMAIN §5's
amounts on the policy's year-to-date state, a notice, visible to the member; the same record again does nothing
twice; the same bill claimed by hand is 409 at submission; a person without a policy gets nothing; a record whose
sums do not add up pays nothing and waits for staff; a member with no payee is paid once they give one."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.e2e.test_claim_flow import insured_with_policy, set_clock, staff
from tests.helpers import make_test_id

pytestmark = pytest.mark.e2e

W1 = {"in_policy_after_catastrophic_fen": 3_000_000, "self_pay_fen": 5_000_000}  # 46 500.00 yuan from zero
W4_1 = {"self_pay_fen": 1_000_000}  # W4 bill 1: pays 0, uses 10 000 yuan of the deductible
W4_2 = {"self_pay_fen": 2_000_000}  # W4 bill 2: 9 000.00 yuan


def feed(api) -> dict:
    ran = api.post("/sandbox/jobs/settlement_feed")
    assert ran.status == 200, ran.body
    return ran.body["counts"]


def push(api, id_number: str, amounts: dict, day: str = "2021-05-01", settlement_id: str | None = None):
    body = {"id_number": id_number, "service_date": day, "setting": "inpatient", "amounts_fen": amounts}
    if settlement_id:
        body["settlement_id"] = settlement_id
    pushed = api.post("/sandbox/settlements", body)
    assert pushed.status == 201, pushed.body
    return pushed.body["settlement_id"]


def national(setl_id: str, total: str, ownpay: str, inscp: str, hifp: str, hifmi: str, personal: str) -> dict:
    return {"setl_id": setl_id, "setl_time": "2021-05-02T15:30:00+08:00", "med_type": "21", "medfee_sumamt": total,
            "fulamt_ownpay_amt": ownpay, "inscp_scp_amt": inscp, "hifp_pay": hifp, "hifmi_pay": hifmi,
            "psn_part_amt": personal, "psn_cash_pay": personal}


def person_with_policy(api, phone: str, seq: int, ssc: bool = True) -> tuple[str, str]:
    policy_id = insured_with_policy(api, phone, seq)
    id_number = make_test_id("331102", date(1955, 3, 3), seq)
    if ssc:  # re-register with the social-security-card account the platform reports (same person, same balances)
        assert api.post("/sandbox/people", {
            "name": "王建国", "id_number": id_number, "city": "331100", "basic_type": "employee",
            "status": "active", "basic_start": "2000-01-01", "account_current_fen": 50_000,
            "ssc_account": {"bank_name": "丽水农商银行", "account_number": "6230910299007654321"}}).status == 201
    return policy_id, id_number


def test_settlements_in_both_shapes_become_paid_automatic_claims_once(api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id, id_number = person_with_policy(api, "13700137201", 521)
    set_clock(api, "2021-05-10T09:00:00+08:00")
    before = api.get("/v1/disclosure/lishui-2021").body["totals"]  # the server is shared with other e2e tests

    sandbox_id = push(api, id_number, W1)
    nat_id = f"NAT{uuid.uuid4().hex[:12].upper()}"
    pushed = api.post("/sandbox/settlements", {"id_number": id_number, "settlement": national(
        nat_id, "30000.00", "20000.00", "10000.00", "6000.00", "0.00", "24000.00")})
    assert pushed.status == 201, pushed.body
    counts = feed(api)
    assert counts.get("created", 0) >= 2 and counts.get("paid", 0) >= 2, counts

    mine = {c["claim_id"]: c for c in api.get("/v1/claims").body}
    auto = [c for c in mine.values() if c["channel"] == "auto"]
    assert len(auto) == 2
    assert all(c["claimant"] == "system" and c["status"] == "paid" for c in auto), auto
    by_settlement = {api.get(f"/v1/claims/{c['claim_id']}").body["settlement_id"]: c for c in auto}
    # W1 first (its record came first): 46 500.00 yuan; then the national record on what W1 left: 20 000 self-pay
    # + 4 000 in-policy below 大病 (no 大病 fund paid) — lishui-2021 does not cover the latter; the deductible is
    # used up, so 20 000 × 75% = 15 000.00 yuan
    assert by_settlement[sandbox_id]["paid_fen"] == 4_650_000
    assert by_settlement[nat_id]["paid_fen"] == 1_500_000
    detail = api.get(f"/v1/claims/{by_settlement[nat_id]['claim_id']}").body
    assert detail["payout"]["status"] == "succeeded" and detail["payee"]["account_number_masked"].endswith("4321")
    assert {u["category"] for u in detail["unplaced"]} == {"negative_list", "admission_list", "transfer_out"}
    assert "补充理赔" in detail["unplaced_note"]
    assert detail["decision_due_note"] is None  # decided: no promise of a decision date on a paid claim
    assert [t["status"] for t in detail["timeline"]] == ["submitted", "under_review", "approved", "paid"]
    policy = api.get(f"/v1/policies/{policy_id}").body
    assert policy["year_to_date"]["paid_fen"] == 6_150_000, policy.get("year_to_date")

    # the same records again (a second run; a record pushed again with the same id): nothing twice
    assert api.post("/sandbox/settlements", {"id_number": id_number, "settlement": national(
        nat_id, "30000.00", "20000.00", "10000.00", "6000.00", "0.00", "24000.00")}).status == 201
    feed(api)
    assert len([c for c in api.get("/v1/claims").body if c["channel"] == "auto"]) == 2
    assert api.get(f"/v1/policies/{policy_id}").body["year_to_date"]["paid_fen"] == 6_150_000

    # disclosure: claims paid without an application, by county
    figures = api.get("/v1/disclosure/lishui-2021").body
    totals = figures["totals"]
    assert (totals["claims_paid_auto"] - before["claims_paid_auto"], totals["claims_paid"] - before["claims_paid"],
            totals["paid_fen"] - before["paid_fen"]) == (2, 2, 6_150_000)
    assert totals["auto_claim_share"] is not None
    # by county: the policy's county (the platform registered none here, so the city's "unregistered" row)
    county = next(c for c in figures["by_county"] if c["county"] == "331100")
    assert county["claims_paid_auto"] >= 2 and county["auto_claim_share"] is not None

    # the same bill by hand: refused at submission
    again = api.post("/v1/claims", {"policy_id": policy_id, "bills": [
        {"service_date": "2021-05-01", "setting": "inpatient", **W1}],
        "payee": {"account_name": "王建国", "bank_name": "丽水农商银行", "account_number": "6230910299001234567"}},
        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (again.status, again.body["code"]) == (409, "CLAIM_BILL_ALREADY_PAID"), again.body


def test_no_policy_nothing_and_a_record_that_does_not_add_up_pays_nothing(api):
    set_clock(api, "2021-05-10T09:00:00+08:00")
    stranger = make_test_id("331102", date(1960, 6, 6), 531)
    assert api.post("/sandbox/people", {"name": "李四", "id_number": stranger, "city": "331100",
                                        "basic_type": "resident", "status": "active"}).status == 201
    push(api, stranger, W1)
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id, id_number = person_with_policy(api, "13700137202", 532)
    set_clock(api, "2021-05-10T09:00:00+08:00")
    bad_id = f"BAD{uuid.uuid4().hex[:12].upper()}"
    assert api.post("/sandbox/settlements", {"id_number": id_number, "settlement": national(
        bad_id, "30000.00", "20000.00", "10000.00", "6000.00", "0.00", "20000.00")}).status == 201
    counts = feed(api)
    assert counts.get("skipped", 0) >= 1 and counts.get("review", 0) >= 1, counts
    assert api.get("/v1/claims").body == []  # nothing paid, nothing created
    member_token, api.token = api.token, None
    reviews = api.get("/v1/admin/settlement-reviews", headers=staff(api, "claims_reviewer"))
    assert reviews.status == 200
    mine = [r for r in reviews.body if r["settlement_id"] == bad_id]
    assert mine and mine[0]["reasons"] == ["SETTLEMENT_SUMS_MISMATCH"] and "暂不赔付" in mine[0]["reasons_zh"][0]
    assert id_number not in str(reviews.body)  # masked
    api.token = member_token


def test_without_a_payee_the_member_is_told_and_paid_once_they_give_one(api):
    set_clock(api, "2020-12-10T10:00:00+08:00")
    policy_id, id_number = person_with_policy(api, "13700137203", 541, ssc=False)
    set_clock(api, "2021-05-10T09:00:00+08:00")
    push(api, id_number, W4_1, day="2021-04-01")
    push(api, id_number, W4_2, day="2021-04-20")
    feed(api)
    claims = api.get("/v1/claims").body  # both created at the same instant: compare by amount, not by order
    by_amount = sorted((c.get("approved_fen") or 0, c["status"]) for c in claims)
    assert by_amount == [(0, "paid"), (900_000, "approved")], claims  # W4 bill 1 pays 0: nothing to transfer
    waiting = api.get(f"/v1/claims/{[c for c in claims if c['status'] == 'approved'][0]['claim_id']}").body
    assert waiting["payout"]["status"] == "awaiting_payee" and "收款账户" in waiting["member_note"]
    given = api.put("/v1/me/payee", {"account_name": "王建国", "bank_name": "中国工商银行",
                                     "account_number": "6222021234561234"})
    assert given.status == 200 and given.body["claims_resumed"] == 1, given.body
    assert given.body["account_number_masked"] == "6222********1234"
    assert "6222021234561234" not in str(api.get("/v1/me/payee").body)
    paid = api.get(f"/v1/claims/{waiting['claim_id']}").body
    assert (paid["status"], paid["paid_fen"]) == ("paid", 900_000)  # W4 bill 2
