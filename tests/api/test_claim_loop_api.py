"""#13 over the routes (chalice.test.Client + moto): a paid bill refused at submission, staff decisions on an
incomplete claim, a bill naming its settlement, the bucket's upload event, and the official calendar route."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote_plus

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.claim_helpers import (
    BILL,
    PDF,
    add_document,
    call,
    complete,
    pay,
    post_form,
    review,
    staff,
    stored_claim,
    submit,
)
from tests.helpers import new_id, new_member

CALENDAR_2027 = {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": []}


@pytest.fixture()
def stranger(client, insured):
    return new_member(client, "13900000009", "李四", new_id(seq=109))


def _paid_claim(client, insured) -> str:
    status, body = submit(client, insured.headers, insured.policy_id)
    assert status == 201, body
    complete(client, insured.headers, body["claim_id"])
    assert review(client, body["claim_id"], "approve")[0] == 200
    assert pay(client, body["claim_id"])[0] == 200
    return body["claim_id"]


# ---- a bill already paid ------------------------------------------------------------------------------------------
def test_a_bill_already_paid_is_refused_at_submission_without_an_estimate(client, insured):
    paid = _paid_claim(client, insured)
    status, body = submit(client, insured.headers, insured.policy_id)  # the W1 slip again
    assert (status, body["code"], body["details"]["other_claim_id"]) == (409, "CLAIM_BILL_ALREADY_PAID", paid)
    assert "estimate_fen" not in body and "重复赔付" in body["message"]
    _, mine = call(client, "GET", "/v1/claims", insured.headers)
    assert [c["claim_id"] for c in mine] == [paid]


def test_a_bill_may_name_its_settlement(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id,
                          bills=[dict(BILL, settlement_id="SETL-331100-0001")])
    assert (status, body["bills"][0]["settlement_id"]) == (201, "SETL-331100-0001")


def test_a_settlement_id_that_is_not_a_string_is_400_naming_the_field(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id, bills=[dict(BILL, settlement_id=12)])
    assert (status, body["details"]["field"]) == (400, "bills.0.settlement_id")


# ---- decisions on an incomplete claim ------------------------------------------------------------------------------
def test_staff_ask_for_more_on_an_incomplete_claim_which_then_resumes_review_when_complete(client, insured, stranger):
    _, claim = submit(client, insured.headers, insured.policy_id)
    assert (claim["decision_due"], claim["missing_documents"]) == (None, ["invoice", "settlement_slip"])
    status, body = review(client, claim["claim_id"], "need_more_info", reason="请上传发票和医保结算单")
    assert (status, body["status"], body["decision_due"]) == (200, "need_more_info", None)
    assert call(client, "GET", f"/v1/claims/{claim['claim_id']}", stranger.headers)[0] == 404
    complete(client, insured.headers, claim["claim_id"])
    _, mine = call(client, "GET", f"/v1/claims/{claim['claim_id']}", insured.headers)
    assert (mine["status"], mine["decision_due"], mine["missing_documents"]) == ("under_review", "2021-11-22", [])
    assert [t["status"] for t in mine["timeline"]] == ["submitted", "under_review", "need_more_info", "under_review"]


def test_staff_reject_an_incomplete_claim_with_a_reason(client, insured):
    _, claim = submit(client, insured.headers, insured.policy_id)
    status, body = review(client, claim["claim_id"], "reject", reason="就诊医院不在本方案定点范围")
    assert (status, body["status"], body["member_note"]) == (200, "rejected", "就诊医院不在本方案定点范围")


# ---- the bucket's upload event -------------------------------------------------------------------------------------
def test_the_upload_event_completes_a_claim_whose_client_never_called_verify(client, insured):
    from chalicelib import jobs

    _, claim = submit(client, insured.headers, insured.policy_id)
    records = []
    for kind in ("invoice", "settlement_slip"):
        _, doc = add_document(client, insured.headers, claim["claim_id"], kind)
        assert post_form(doc["upload"], PDF, "application/pdf").status_code in (200, 201, 204)
        records.append({"s3": {"object": {"key": quote_plus(doc["upload"]["fields"]["key"])}}})
    assert jobs.document_uploaded({"Records": records}) == {"verified": 2}
    assert jobs.document_uploaded({"Records": records[:1]}) == {"already": 1}
    assert stored_claim(claim["claim_id"])["decision_due"] == "2021-11-22"


# ---- the official calendar -----------------------------------------------------------------------------------------
def test_loading_2027_makes_a_december_claims_deadline_official(client, stranger, clock):
    insured = stranger  # with a policy whose benefit period is 2026
    clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=CHINA_TZ))
    policy_id = _policy_2026(insured)
    status, claim = submit(client, insured.headers, policy_id, bills=[dict(BILL, service_date="2026-12-01")])
    assert status == 201, claim
    complete(client, insured.headers, claim["claim_id"])
    _, before = call(client, "GET", f"/v1/claims/{claim['claim_id']}", insured.headers)
    assert (before["decision_due"], before["decision_due_estimated"]) == ("2027-01-12", True)
    status, body = call(client, "PUT", "/v1/admin/calendar/2027", staff("bureau"),
                        {**CALENDAR_2027, "workdays": ["2027-01-09"]})
    assert (status, body["claims_rescheduled"], body["workdays"]) == (200, 1, ["2027-01-09"])
    _, after = call(client, "GET", f"/v1/claims/{claim['claim_id']}", insured.headers)
    assert (after["decision_due"], after["decision_due_estimated"]) == ("2027-01-11", False)
    assert stored_claim(claim["claim_id"])["GSI3SK"].startswith("2027-01-11#")


def _policy_2026(member) -> str:
    from tests.helpers import write_policy

    return write_policy(member.id_number, member.name, member.account_id, benefit_start="2026-01-01",
                        coverage_end="2026-12-31")


@pytest.mark.parametrize("headers, status, code", [
    (lambda insured: staff("claims_reviewer"), 403, "STAFF_ROLE_NOT_ALLOWED"),
    (lambda insured: insured.headers, 403, "STAFF_ONLY"),
])
def test_only_an_insurer_admin_or_the_bureau_loads_a_calendar(client, insured, headers, status, code):
    answer = call(client, "PUT", "/v1/admin/calendar/2027", headers(insured), CALENDAR_2027)
    assert (answer[0], answer[1]["code"]) == (status, code)


@pytest.mark.parametrize("path, body, code, field", [
    ("/v1/admin/calendar/2027", {"holidays": ["2027-01-01"], "workdays": ["2027-02-17"]}, "CALENDAR_INVALID",
     "holidays"),
    ("/v1/admin/calendar/2027", {"holidays": ["2026-12-31"]}, "CALENDAR_INVALID", "holidays"),
    ("/v1/admin/calendar/27", CALENDAR_2027, "CALENDAR_YEAR_INVALID", "year"),
    ("/v1/admin/calendar/2027", {"holidays": ["1 January"]}, "VALIDATION_FAILED", "holidays.0"),
])
def test_a_calendar_that_cannot_be_right_is_400_and_nothing_is_stored(client, insured, path, body, code, field):
    from chalicelib import deps
    from chalicelib.adapters import keys

    status, answer = call(client, "PUT", path, staff("insurer_admin"), body)
    assert (status, answer["code"], answer["details"]["field"]) == (400, code, field)
    assert deps.table().get(keys.official_calendar(2027)) is None


def test_a_loaded_year_is_stored_for_every_container_to_read(client, insured):
    from chalicelib import deps
    from chalicelib.adapters import keys

    assert call(client, "PUT", "/v1/admin/calendar/2027", staff("insurer_admin", "admin-7"), CALENDAR_2027)[0] == 200
    item = deps.table().get(keys.official_calendar(2027))
    assert (item["holidays"], item["loaded_by"]) == (CALENDAR_2027["holidays"], "admin-7")
