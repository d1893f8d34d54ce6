"""Staff claim routes: the queue, review decisions, payment with the policy's year-to-date state, roles, audit."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.claim_helpers import (
    BILL,
    NOW,
    W1_PAYOUT,
    call,
    complete,
    pay,
    policy_for,
    review,
    staff,
    stored_claim,
    stored_policy,
    submit,
)
from tests.helpers import new_id, new_member

SMALL_BILL = {"service_date": "2021-10-20", "setting": "inpatient", "self_pay_fen": 2_000_000}


def new_claim(client, insured, bills=None, documents=True) -> str:
    status, body = submit(client, insured.headers, insured.policy_id, bills=bills)
    assert status == 201, body
    if documents:
        complete(client, insured.headers, body["claim_id"])
    return body["claim_id"]


@pytest.fixture()
def claim_id(client, insured):
    return new_claim(client, insured)


def audit_entries(claim_id):
    from chalicelib import deps
    from chalicelib.adapters import schema

    return list(deps.table().query_all(schema.PARTITION_KEY, f"AUDIT#CLAIM#{claim_id}"))


# ---- review -----------------------------------------------------------------------------------------------------------
def test_approving_records_under_review_then_approved_with_the_engines_amount(client, insured, claim_id):
    reviewed = [dict(BILL, self_pay_fen=4_000_000)]  # the reviewer found 10,000 yuan not supported by the invoice
    status, body = review(client, claim_id, "approve", bills=reviewed)
    assert (status, body["status"]) == (200, "approved")
    assert body["approved_fen"] == round((3_000_000 + 4_000_000 - 1_800_000) * 0.75)
    assert [(t["status"], t["by"]) for t in body["timeline"]] == [
        ("submitted", "insured"), ("under_review", "claims_reviewer"), ("approved", "claims_reviewer")]
    assert body["reviewed_bills"][0]["self_pay_fen"] == 4_000_000


def test_approval_without_bills_uses_the_submitted_amounts(client, insured, claim_id):
    assert review(client, claim_id, "approve")[1]["approved_fen"] == W1_PAYOUT


def test_approval_does_not_touch_the_policys_year_to_date_state(client, insured, claim_id):
    before = stored_policy(insured.policy_id)
    review(client, claim_id, "approve")
    assert stored_policy(insured.policy_id) == before


def test_staff_actions_are_audited_with_who_and_why(client, insured, claim_id):
    review(client, claim_id, "need_more_info", reason="请补充出院小结")
    [entry] = audit_entries(claim_id)
    assert (entry["staff_id"], entry["role"], entry["action"], entry["decision"], entry["reason"]) == \
        ("staff-claims_reviewer", "claims_reviewer", "review", "need_more_info", "请补充出院小结")


def test_rejecting_needs_a_reason_which_the_member_then_sees(client, insured, claim_id):
    status, body = review(client, claim_id, "reject")
    assert (status, body["code"]) == (400, "CLAIM_REASON_REQUIRED")
    assert stored_claim(claim_id)["status"] == "submitted"
    review(client, claim_id, "reject", reason="就诊医院不在本方案定点范围")
    _, mine = call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)
    assert (mine["status"], mine["member_note"]) == ("rejected", "就诊医院不在本方案定点范围")
    assert mine["timeline"][-1]["note"] == "就诊医院不在本方案定点范围"
    assert mine["timeline"][-1]["by_id"] is None  # members do not see staff ids


def test_asking_for_more_information_then_approving_goes_through_review_twice(client, insured, claim_id):
    review(client, claim_id, "need_more_info", reason="请补充费用清单")
    _, body = review(client, claim_id, "approve")
    assert [t["status"] for t in body["timeline"]] == ["submitted", "under_review", "need_more_info",
                                                       "under_review", "approved"]


def test_an_incomplete_claim_cannot_be_reviewed(client, insured):
    claim = new_claim(client, insured, documents=False)
    status, body = review(client, claim, "approve")
    assert (status, body["code"], body["details"]["missing"]) == (422, "CLAIM_INCOMPLETE",
                                                                   ["invoice", "settlement_slip"])
    assert "医疗费用发票" in body["message"]


@pytest.mark.parametrize("decision", ["approve", "reject", "need_more_info"])
def test_a_decided_claim_acted_on_again_is_409_and_nothing_changes(client, insured, claim_id, decision):
    review(client, claim_id, "reject", reason="不符合条件")
    before = stored_claim(claim_id)
    status, body = review(client, claim_id, decision, reason="再次处理")
    assert (status, body["code"]) == (409, "CLAIM_STATE_CONFLICT")
    assert stored_claim(claim_id) == before


def test_approved_bills_must_lie_in_the_benefit_period(client, insured, claim_id):
    status, body = review(client, claim_id, "approve", bills=[dict(BILL, service_date="2021-07-01")])
    assert (status, body["code"]) == (422, "CLAIM_BILL_OUTSIDE_BENEFIT_PERIOD")


def test_the_bureau_reads_but_cannot_decide_or_pay(client, insured, claim_id):
    assert call(client, "GET", f"/v1/admin/claims/{claim_id}", staff("bureau"))[0] == 200
    status, body = review(client, claim_id, "approve", role="bureau")
    assert (status, body["code"]) == (403, "STAFF_ROLE_NOT_ALLOWED")
    assert pay(client, claim_id, role="bureau")[0] == 403


def test_a_reviewer_cannot_pay(client, insured, claim_id):
    review(client, claim_id, "approve")
    status, body = pay(client, claim_id, role="claims_reviewer")
    assert (status, body["code"]) == (403, "STAFF_ROLE_NOT_ALLOWED")


@pytest.mark.parametrize("method, path", [("GET", "/v1/admin/claims"), ("GET", "/v1/admin/claims/{id}"),
                                          ("POST", "/v1/admin/claims/{id}/review"),
                                          ("POST", "/v1/admin/claims/{id}/pay")])
def test_members_never_reach_admin_routes(client, insured, claim_id, method, path):
    before = stored_claim(claim_id)
    status, body = call(client, method, path.format(id=claim_id), insured.headers,
                        {"decision": "approve"} if path.endswith("review") else None, key="member-pay-key")
    assert (status, body["code"]) == (403, "STAFF_ONLY")
    assert stored_claim(claim_id) == before


def test_staff_see_the_payee_masked_and_who_acted(client, insured, claim_id):
    review(client, claim_id, "approve")
    _, body = call(client, "GET", f"/v1/admin/claims/{claim_id}", staff("insurer_admin"))
    assert body["payee"]["account_number_masked"] == "6222********1234"
    assert body["timeline"][-1]["by_id"] == "staff-claims_reviewer"
    assert body["insured_name_masked"] == "王*明"
    assert body["documents"][0]["download"]["url"]


# ---- payment ----------------------------------------------------------------------------------------------------------
def test_paying_marks_the_claim_paid_and_advances_the_policys_year_to_date_once(client, insured, claim_id):
    review(client, claim_id, "approve")
    status, body = pay(client, claim_id, key="pay-key-0001")
    assert (status, body["status"], body["paid_fen"]) == (200, "paid", W1_PAYOUT)
    policy = stored_policy(insured.policy_id)
    assert (policy["ytd_deductible_used_fen"], policy["ytd_eligible_fen"], policy["ytd_paid_fen"],
            policy["version"]) == (1_800_000, 6_200_000, W1_PAYOUT, 2)
    assert pay(client, claim_id, key="pay-key-0001") == (200, body)  # the same key: the first answer again
    status, again = pay(client, claim_id, key="pay-key-0002")
    assert (status, again["code"]) == (409, "CLAIM_ALREADY_PAID")
    assert stored_policy(insured.policy_id) == policy


def test_only_an_approved_claim_can_be_paid(client, insured, claim_id):
    status, body = pay(client, claim_id)
    assert (status, body["code"]) == (409, "CLAIM_STATE_CONFLICT")
    assert stored_policy(insured.policy_id)["ytd_paid_fen"] == 0


def test_payment_recomputes_on_the_year_to_date_state_at_payment_time(client, insured):
    first = new_claim(client, insured, bills=[SMALL_BILL])
    second = new_claim(client, insured, bills=[dict(SMALL_BILL, service_date="2021-10-21")])  # another stay
    assert review(client, first, "approve")[1]["approved_fen"] == 150_000  # each alone: 200,000 after the deductible
    assert review(client, second, "approve")[1]["approved_fen"] == 150_000
    assert pay(client, first)[1]["paid_fen"] == 150_000
    paid = pay(client, second)[1]
    assert paid["paid_fen"] == 1_500_000  # the deductible was used up by the first claim: it applies once a year
    assert paid["approved_fen"] == 150_000
    policy = stored_policy(insured.policy_id)
    assert (policy["ytd_deductible_used_fen"], policy["ytd_eligible_fen"], policy["ytd_paid_fen"]) == \
        (1_800_000, 2_200_000, 1_650_000)


def test_after_payment_the_next_estimate_starts_from_the_new_year_to_date_state(client, insured, claim_id):
    review(client, claim_id, "approve")
    pay(client, claim_id)
    status, body = call(client, "POST", "/v1/estimates", insured.headers,
                        {"policy_id": insured.policy_id, "bills": [SMALL_BILL]})
    assert (status, body["payout_fen"]) == (200, 1_500_000)  # deductible met, cumulative 6.2M + 2M still at 75%


def test_payment_is_notified_to_the_member(client, insured, claim_id):
    from chalicelib import deps

    review(client, claim_id, "approve")
    pay(client, claim_id)
    # under_review and the decision are one change when a review decides at once: the member gets the decision
    assert [n.data["status"] for n in deps.notifications().sent(insured.account_id)] == \
        ["submitted", "approved", "paid"]


def test_payment_needs_an_idempotency_key(client, insured, claim_id):
    status, body = call(client, "POST", f"/v1/admin/claims/{claim_id}/pay", staff("insurer_admin"))
    assert (status, body["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")


# ---- the queue --------------------------------------------------------------------------------------------------------
@pytest.fixture()
def queue(client, insured, clock):
    """Three open claims: one completed 11-01 (due 11-22), one completed 11-03 (due 11-24), one without documents;
    then today is 11-23, so the first is overdue."""
    early = new_claim(client, insured)
    clock.set(NOW + timedelta(days=2))
    later = new_claim(client, insured)
    waiting = new_claim(client, insured, documents=False)
    clock.set(NOW + timedelta(days=22))
    return early, later, waiting


def test_the_queue_lists_open_claims_oldest_deadline_first_with_overdue_ones_flagged(client, queue):
    status, body = call(client, "GET", "/v1/admin/claims", staff())
    assert status == 200
    assert [(c["claim_id"], c["decision_due"], c["overdue"]) for c in body["items"]] == [
        (queue[0], "2021-11-22", True), (queue[1], "2021-11-24", False), (queue[2], None, False)]
    assert body["next"] is None


def test_the_queue_pages_with_an_opaque_cursor(client, queue):
    _, first = call(client, "GET", "/v1/admin/claims?limit=2", staff("bureau"))
    assert [c["claim_id"] for c in first["items"]] == list(queue[:2]) and first["next"]
    _, second = call(client, "GET", f"/v1/admin/claims?limit=2&cursor={first['next']}", staff("bureau"))
    assert [c["claim_id"] for c in second["items"]] == [queue[2]] and second["next"] is None


def test_overdue_claims_lead_even_before_approved_claims_with_older_deadlines(client, queue, clock):
    review(client, queue[0], "approve")  # due 11-22, decided: it now waits for payment, not for a decision
    clock.set(NOW + timedelta(days=24))  # 11-25: the claim due 11-24 is overdue
    _, body = call(client, "GET", "/v1/admin/claims", staff())
    assert [(c["claim_id"], c["status"], c["overdue"]) for c in body["items"]] == [
        (queue[1], "submitted", True), (queue[0], "approved", False), (queue[2], "submitted", False)]


def test_the_queue_filters_by_status(client, queue):
    review(client, queue[1], "approve")
    _, approved = call(client, "GET", "/v1/admin/claims?status=approved", staff())
    assert [c["claim_id"] for c in approved["items"]] == [queue[1]]
    _, submitted = call(client, "GET", "/v1/admin/claims?status=submitted", staff())
    assert [c["claim_id"] for c in submitted["items"]] == [queue[0], queue[2]]


@pytest.mark.parametrize("query, code, field", [
    ("status=lost", "BAD_QUERY_PARAMETER", "status"), ("limit=0", "BAD_QUERY_PARAMETER", "limit"),
    ("limit=abc", "BAD_QUERY_PARAMETER", "limit"),
    ("cursor=%%%", "CURSOR_INVALID", "cursor"), ("cursor=eyJ4IjoxfQ", "CURSOR_INVALID", "cursor")])
def test_bad_queue_parameters_are_400(client, insured, query, code, field):
    status, body = call(client, "GET", f"/v1/admin/claims?{query}", staff())
    assert (status, body["code"], body["details"]["field"]) == (400, code, field)


def test_an_unknown_claim_is_404_for_staff(client, insured):
    assert call(client, "GET", "/v1/admin/claims/nope", staff())[0] == 404
    assert review(client, "nope", "approve")[0] == 404


# ---- basic-insurance suspensions (DOMAIN §2.4) ---------------------------------------------------------------------
def test_approval_pays_nothing_for_bills_inside_a_basic_insurance_suspension(client, clock):
    from datetime import date

    from chalicelib.domain.platform import SuspensionPeriod

    clock.set(NOW)
    member = new_member(client, "13900000007", "李四", new_id(seq=107),
                        suspensions=[SuspensionPeriod(start=date(2021, 10, 1), end=date(2021, 10, 25))])
    member.policy_id = policy_for(member)
    claim = new_claim(client, member)  # BILL is dated 2021-10-20, inside the suspension
    status, body = review(client, claim, "approve")
    assert (status, body["approved_fen"]) == (200, 0)


def test_review_waits_when_the_platform_cannot_say_whether_basic_insurance_was_suspended(client, insured, claim_id):
    from chalicelib import deps

    deps.platform().fail_next("find_person", "before")
    status, body = review(client, claim_id, "approve")
    assert (status, body["code"]) == (503, "UPSTREAM_UNAVAILABLE")
    assert stored_claim(claim_id)["status"] in ("submitted", "under_review")


def test_who_approved_a_claim_cannot_also_pay_it(client, insured, claim_id):
    assert review(client, claim_id, "approve", role="insurer_admin")[0] == 200
    approver = staff("insurer_admin")  # the same staff id as the approver
    status, body = call(client, "POST", f"/v1/admin/claims/{claim_id}/pay", approver, key="pay-by-approver-1")
    assert (status, body["code"]) == (403, "CLAIM_PAYER_IS_APPROVER")
    assert stored_claim(claim_id)["status"] == "approved"
    other = staff("insurer_admin", "admin-2")
    assert call(client, "POST", f"/v1/admin/claims/{claim_id}/pay", other, key="pay-by-other-1")[0] == 200


def test_a_bill_repeated_inside_one_claim_is_refused_at_submission(client, insured):
    # #13: refused before the member is shown an estimate counting the slip twice (it was refused only at approval)
    status, body = submit(client, insured.headers, insured.policy_id, bills=[SMALL_BILL, SMALL_BILL])
    assert (status, body["code"], body["details"]["index"]) == (409, "CLAIM_BILL_REPEATED", 2)


def test_a_document_cannot_be_verified_after_the_decision(client, insured, claim_id):
    from tests.claim_helpers import PDF, add_document, post_form

    status, doc = add_document(client, insured.headers, claim_id, "expense_list")
    assert status == 201
    assert post_form(doc["upload"], PDF, "application/pdf").status_code in (200, 201, 204)
    assert review(client, claim_id, "reject", reason="不属于保障范围")[0] == 200
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify",
                        insured.headers)
    assert status == 409, body


def test_the_daily_sweep_counts_claims_past_their_decision_deadline(client, clock, insured, claim_id):
    from chalicelib import jobs

    due = stored_claim(claim_id)["decision_due"]
    assert jobs.claim_deadline_sweep()["overdue"] == 0
    from datetime import date, datetime

    from chalicelib.adapters.clock import CHINA_TZ

    clock.set(datetime.combine(date.fromisoformat(due) + timedelta(days=1), datetime.min.time(), tzinfo=CHINA_TZ))
    summary = jobs.claim_deadline_sweep()
    assert (summary["overdue"], summary["by_status"], summary["oldest_decision_due"]) == (1, {"submitted": 1}, due)
    review(client, claim_id, "reject", reason="不属于保障范围")
    assert jobs.claim_deadline_sweep()["overdue"] == 0  # decided: no longer awaiting a decision
