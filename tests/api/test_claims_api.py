"""Member claim routes: submission, documents through the pre-signed POST, verification, views, withdrawal, BOLA."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.claim_helpers import (
    BILL,
    PAYEE,
    PDF,
    W1_PAYOUT,
    add_document,
    call,
    complete,
    post_form,
    review,
    stored_claim,
    submit,
    upload,
)
from tests.helpers import login, new_id, new_member


@pytest.fixture()
def stranger(client, insured):
    return new_member(client, "13900000002", "李四", new_id(seq=103))


@pytest.fixture()
def claim_id(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id)
    assert status == 201, body
    return body["claim_id"]


# ---- submission ------------------------------------------------------------------------------------------------------
def test_the_insured_submits_a_claim_with_its_estimate_and_no_deadline_until_complete(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id)
    assert status == 201
    assert (body["status"], body["estimate_fen"], body["claimant"]) == ("submitted", W1_PAYOUT, "insured")
    assert body["decision_due"] is None and "15 个工作日" in body["decision_due_note"]
    assert body["missing_documents"] == ["invoice", "settlement_slip"]
    assert [(t["status"], t["by"]) for t in body["timeline"]] == [("submitted", "insured")]
    assert body["estimate_bills"][0]["payout_fen"] == W1_PAYOUT


def test_the_payee_account_is_masked_in_responses_and_encrypted_at_rest(client, insured, claim_id):
    _, body = call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)
    assert body["payee"] == {"account_name": "王小明", "bank_name": PAYEE["bank_name"],
                             "account_number_masked": "6222********1234"}
    assert PAYEE["account_number"] not in json.dumps(body)
    item = stored_claim(claim_id)
    assert PAYEE["account_number"] not in json.dumps(item, default=str)
    from chalicelib import deps

    assert deps.cipher().decrypt(item["payee_account_enc"], "bank_account") == PAYEE["account_number"]


def test_a_repeated_submission_with_the_same_key_returns_the_first_claim(client, insured):
    first = submit(client, insured.headers, insured.policy_id, key="claim-key-0001")
    again = submit(client, insured.headers, insured.policy_id, key="claim-key-0001")
    assert first[0] == again[0] == 201
    assert first[1]["claim_id"] == again[1]["claim_id"]


def test_the_same_key_with_another_body_is_409(client, insured):
    submit(client, insured.headers, insured.policy_id, key="claim-key-0002")
    status, body = submit(client, insured.headers, insured.policy_id, bills=[dict(BILL, self_pay_fen=1)],
                          key="claim-key-0002")
    assert (status, body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")


def test_submission_needs_an_idempotency_key(client, insured):
    status, body = call(client, "POST", "/v1/claims", insured.headers,
                        {"policy_id": insured.policy_id, "bills": [BILL], "payee": PAYEE})
    assert (status, body["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")


@pytest.mark.parametrize("number", ["12345678901", "1" * 31, "6222-0212-3456-1234", "62220212345612３４", "",
                                    "６２２２０２１２３４５６１２３４"])
def test_a_payee_account_that_is_not_12_to_30_digits_is_400(client, insured, number):
    status, body = submit(client, insured.headers, insured.policy_id, payee=dict(PAYEE, account_number=number))
    assert (status, body["details"]["field"]) == (400, "payee.account_number")
    assert "12 至 30 位数字" in body["message"]


def test_a_bill_before_benefit_start_is_422_and_nothing_is_stored(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id,
                          bills=[BILL, dict(BILL, service_date="2021-07-15")])
    assert (status, body["code"], body["details"]["field"]) == (422, "CLAIM_BILL_OUTSIDE_BENEFIT_PERIOD",
                                                                 "bills.1.service_date")
    assert "2021-07-16" in body["message"]
    assert call(client, "GET", "/v1/claims", insured.headers)[1] == []


def test_a_bill_in_the_future_is_422(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id, bills=[dict(BILL, service_date="2021-11-02")])
    assert (status, body["code"]) == (422, "CLAIM_BILL_IN_FUTURE")


def test_a_malformed_bill_is_400_naming_the_field(client, insured):
    status, body = submit(client, insured.headers, insured.policy_id, bills=[dict(BILL, self_pay_fen=-1)])
    assert (status, body["details"]["field"]) == (400, "bills.0.self_pay_fen")


def test_a_policy_that_is_not_the_callers_is_404(client, insured, stranger):
    status, body = submit(client, stranger.headers, insured.policy_id)
    assert (status, body["code"]) == (404, "POLICY_NOT_FOUND")


def test_a_payer_without_the_claims_authorisation_cannot_claim_for_the_insured(client, insured):
    parent = new_member(client, "13900000003", "王大明", new_id(seq=105, born=__import__("datetime").date(1950, 1, 1)),
                        bind=False)
    from tests.helpers import write_policy

    parents_policy = write_policy(parent.id_number, parent.name, insured.account_id, benefit_start="2021-07-16")
    status, body = submit(client, insured.headers, parents_policy)
    assert (status, body["code"]) == (404, "POLICY_NOT_FOUND")


def test_a_cancelled_policy_cannot_be_claimed_on(client, insured):
    from tests.helpers import write_policy

    cancelled = write_policy(insured.id_number, insured.name, insured.account_id, benefit_start="2021-07-16",
                             status="cancelled", plan_id="lishui-2022")
    status, body = submit(client, insured.headers, cancelled)
    assert (status, body["code"]) == (422, "CLAIM_POLICY_INACTIVE")


# ---- a proxy (亲友代办) -------------------------------------------------------------------------------------------------
def _grant(client, insured, phone, scopes):
    status, body = call(client, "POST", "/v1/authorizations", insured.headers,
                        {"grantee_phone": phone, "scopes": scopes})
    assert status == 201, body


def test_a_relative_with_the_claims_authorisation_claims_uploads_and_withdraws(client, insured):
    _grant(client, insured, "13900000009", ["claims"])
    proxy = login(client, "13900000009")
    status, body = submit(client, proxy, insured.policy_id)
    assert (status, body["claimant"], body["timeline"][0]["by"]) == (201, "proxy", "proxy")
    complete(client, proxy, body["claim_id"])
    assert call(client, "GET", "/v1/claims", proxy)[1][0]["claim_id"] == body["claim_id"]
    assert call(client, "GET", "/v1/claims", insured.headers)[1][0]["claim_id"] == body["claim_id"]
    status, withdrawn = call(client, "POST", f"/v1/claims/{body['claim_id']}/withdraw", proxy, {})
    assert (status, withdrawn["status"]) == (200, "withdrawn")


def test_a_view_only_authorisation_does_not_allow_claiming(client, insured):
    _grant(client, insured, "13900000008", ["view"])
    viewer = login(client, "13900000008")
    assert submit(client, viewer, insured.policy_id)[0] == 404


# ---- documents -------------------------------------------------------------------------------------------------------
def test_a_document_gets_a_presigned_post_pinned_to_its_type_size_and_an_unguessable_key(client, insured, claim_id):
    status, doc = add_document(client, insured.headers, claim_id, "invoice", content_type="image/png",
                               declared_size=2048)
    assert (status, doc["status"]) == (201, "awaiting_upload")
    fields = doc["upload"]["fields"]
    assert fields["Content-Type"] == "image/png"
    assert fields["key"].startswith(f"claims/{claim_id}/") and len(fields["key"].rsplit("/", 1)[1]) >= 32
    assert doc["document_id"] not in fields["key"]
    policy = json.loads(__import__("base64").b64decode(fields["policy"]))
    assert ["content-length-range", 2048, 2048] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert {"key": fields["key"]} in policy["conditions"]


def test_uploading_the_invoice_and_settlement_slip_completes_the_claim_and_sets_the_deadline(client, insured,
                                                                                             claim_id):
    complete(client, insured.headers, claim_id)
    _, body = call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)
    assert (body["decision_due"], body["decision_due_estimated"]) == ("2021-11-22", False)
    assert body["missing_documents"] == [] and body["completed_at"] == "2021-11-01T10:00:00+08:00"
    assert "2021-11-22" in body["decision_due_note"]


def test_verified_documents_are_readable_through_a_short_lived_presigned_get(client, insured, claim_id):
    import requests

    upload(client, insured.headers, claim_id, "expense_list")
    _, body = call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)
    download = body["documents"][0]["download"]
    assert download["expires_in"] == 300
    assert requests.get(download["url"], timeout=10).content == PDF


def test_one_document_alone_does_not_complete_the_claim(client, insured, claim_id):
    upload(client, insured.headers, claim_id, "invoice")
    _, body = call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)
    assert body["decision_due"] is None and body["missing_documents"] == ["settlement_slip"]


@pytest.mark.parametrize("body, field", [
    ({"kind": "selfie", "content_type": "image/png", "size_bytes": 10}, "kind"),
    ({"kind": "invoice", "content_type": "image/gif", "size_bytes": 10}, "content_type"),
    ({"kind": "invoice", "content_type": "image/png", "size_bytes": 0}, "size_bytes"),
    ({"kind": "invoice", "content_type": "image/png"}, "size_bytes"),
])
def test_an_undeclared_kind_or_type_or_a_bad_size_is_400(client, insured, claim_id, body, field):
    status, answer = call(client, "POST", f"/v1/claims/{claim_id}/documents", insured.headers, body)
    assert (status, answer["details"]["field"]) == (400, field)


def test_a_document_over_the_size_limit_is_422_and_nothing_is_registered(client, insured, claim_id):
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/documents", insured.headers,
                        {"kind": "invoice", "content_type": "application/pdf", "size_bytes": 10 * 1024 * 1024 + 1})
    assert (status, body["code"]) == (422, "DOCUMENT_TOO_LARGE")
    assert call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)[1]["documents"] == []


def test_an_object_bigger_than_declared_is_rejected_at_verification(client, insured, claim_id):
    status, doc = add_document(client, insured.headers, claim_id, "invoice", declared_size=10)
    post_form(doc["upload"], PDF, "application/pdf")  # the local S3 does not enforce the length condition
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify",
                        insured.headers)
    assert (status, body["status"]) == (200, "rejected")
    assert "大小与申报的不一致" in body["reason"]
    assert call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)[1]["missing_documents"] == \
        ["invoice", "settlement_slip"]


def test_an_object_of_another_type_than_declared_is_rejected(client, insured, claim_id):
    status, body = upload(client, insured.headers, claim_id, "settlement_slip", uploaded_type="text/html")
    assert (status, body["status"]) == (200, "rejected")
    assert "类型" in body["reason"]


def test_verifying_before_uploading_is_422_and_the_document_still_awaits_upload(client, insured, claim_id):
    _, doc = add_document(client, insured.headers, claim_id, "invoice")
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify",
                        insured.headers)
    assert (status, body["code"]) == (422, "DOCUMENT_NOT_UPLOADED")
    assert call(client, "GET", f"/v1/claims/{claim_id}", insured.headers)[1]["documents"][0]["status"] == \
        "awaiting_upload"


def test_verifying_again_changes_nothing(client, insured, claim_id):
    _, doc = add_document(client, insured.headers, claim_id, "invoice")
    post_form(doc["upload"], PDF, "application/pdf")
    path = f"/v1/claims/{claim_id}/documents/{doc['document_id']}/verify"
    first, second = call(client, "POST", path, insured.headers), call(client, "POST", path, insured.headers)
    assert first[1]["status"] == second[1]["status"] == "verified"
    assert first[1]["verified_at"] == second[1]["verified_at"]


def test_an_unknown_document_is_404(client, insured, claim_id):
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/documents/nope/verify", insured.headers)
    assert (status, body["code"]) == (404, "DOCUMENT_NOT_FOUND")


# ---- views and withdrawal --------------------------------------------------------------------------------------------
def test_my_claims_list_shows_mine_newest_first(client, insured, clock):
    first = submit(client, insured.headers, insured.policy_id)[1]["claim_id"]
    from datetime import timedelta

    clock.advance(timedelta(minutes=5))
    second = submit(client, insured.headers, insured.policy_id)[1]["claim_id"]
    status, body = call(client, "GET", "/v1/claims", insured.headers)
    assert status == 200 and [c["claim_id"] for c in body] == [second, first]


def test_the_claimant_withdraws_before_a_decision_and_the_timeline_says_why(client, insured, claim_id):
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/withdraw", insured.headers, {"reason": "已在医院直接结算"})
    assert (status, body["status"]) == (200, "withdrawn")
    assert body["timeline"][-1] | {"at": None} == {"status": "withdrawn", "status_zh": "已撤回", "at": None,
                                                   "by": "insured", "note": "已在医院直接结算", "by_id": None}


def test_a_withdrawn_claim_cannot_be_withdrawn_again_take_documents_or_be_reviewed(client, insured, claim_id):
    call(client, "POST", f"/v1/claims/{claim_id}/withdraw", insured.headers, {})
    before = stored_claim(claim_id)
    assert call(client, "POST", f"/v1/claims/{claim_id}/withdraw", insured.headers, {})[1]["code"] == \
        "CLAIM_STATE_CONFLICT"
    status, body = add_document(client, insured.headers, claim_id, "invoice")
    assert (status, body["code"]) == (409, "CLAIM_STATE_CONFLICT")
    assert "已撤回" in body["message"]
    assert review(client, claim_id, "approve")[0] == 409
    assert stored_claim(claim_id) == before


def test_a_decided_claim_cannot_be_withdrawn(client, insured, claim_id):
    complete(client, insured.headers, claim_id)
    assert review(client, claim_id, "approve")[0] == 200
    status, body = call(client, "POST", f"/v1/claims/{claim_id}/withdraw", insured.headers, {})
    assert (status, body["code"]) == (409, "CLAIM_STATE_CONFLICT")


def test_status_changes_are_notified_to_the_claimant_without_bill_details(client, insured, claim_id):
    from chalicelib import deps

    call(client, "POST", f"/v1/claims/{claim_id}/withdraw", insured.headers, {})
    sent = deps.notifications().sent(insured.account_id)
    assert [(n.template, n.data["status"]) for n in sent] == [("claim_status_changed", "submitted"),
                                                              ("claim_status_changed", "withdrawn")]
    assert set(sent[0].data) == {"claim_id", "status", "status_zh", "note"}


def test_a_proxys_claim_is_notified_to_the_insured_too(client, insured):
    from chalicelib import deps

    _grant(client, insured, "13900000009", ["claims"])
    proxy = login(client, "13900000009")
    submit(client, proxy, insured.policy_id)
    from tests.helpers import account_id_of

    assert len(deps.notifications().sent(account_id_of(proxy))) == 1
    assert len(deps.notifications().sent(insured.account_id)) == 1


# ---- BOLA: a second member is refused on every claim route ----------------------------------------------------------
@pytest.mark.parametrize("method, path, body", [
    ("GET", "/v1/claims/{id}", None),
    ("POST", "/v1/claims/{id}/documents", {"kind": "invoice", "content_type": "application/pdf", "size_bytes": 10}),
    ("POST", "/v1/claims/{id}/documents/{doc}/verify", None),
    ("POST", "/v1/claims/{id}/withdraw", {}),
])
def test_a_second_member_gets_404_on_every_claim_route(client, insured, stranger, claim_id, method, path, body):
    _, doc = add_document(client, insured.headers, claim_id, "invoice")
    before = stored_claim(claim_id)
    status, answer = call(client, method, path.format(id=claim_id, doc=doc["document_id"]), stranger.headers, body)
    assert (status, answer["code"]) == (404, "CLAIM_NOT_FOUND")
    assert stored_claim(claim_id) == before
    assert call(client, "GET", "/v1/claims", stranger.headers)[1] == []


def test_an_unknown_claim_is_404(client, insured):
    status, body = call(client, "GET", f"/v1/claims/{uuid.uuid4().hex}", insured.headers)
    assert (status, body["code"]) == (404, "CLAIM_NOT_FOUND")


def test_claims_need_a_login(client):
    assert call(client, "GET", "/v1/claims", {})[0] == 401


def test_a_staff_token_cannot_use_member_claim_routes(client, insured, claim_id):
    from tests.claim_helpers import staff

    assert call(client, "GET", f"/v1/claims/{claim_id}", staff())[0] == 403
