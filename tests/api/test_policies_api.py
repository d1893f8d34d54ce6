"""GET /v1/policies, GET /v1/policies/{id}, PUT /v1/policies/{id}/auto-renewal, and the access rules of
POST /v1/policies/{id}/cancel: the insured, the payer and authorised relatives see a policy; nobody else learns it
exists; names of others are masked and ID numbers always are."""
from __future__ import annotations

import json
import re
from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import login, new_id, new_member, write_policy

FULL_ID = re.compile(r"\d{17}[\dX]")
ME, SPOUSE, GRANDSON, STRANGER = "13700000001", "13700000002", "13700000003", "13700000004"


def body(resp):
    text = resp.body.decode()
    assert not FULL_ID.search(text), "a full ID number leaked into a response"
    return json.loads(text)


@pytest.fixture()
def family(client, clock):
    """张三 (employee) paid for himself and for his wife 李四, whom he added as a family member; she has her own
    account. 张三's policy is paid from his personal account."""
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    me = new_member(client, ME, "张三", current_fen=50000, prior_years_fen=100000)
    spouse_id = new_id(born=date(1982, 3, 3), female=True)
    spouse = new_member(client, SPOUSE, "李四", id_number=spouse_id)
    member_id = json.loads(client.http.post("/v1/family-members", headers=me.headers, body=json.dumps(
        {"name": "李四", "id_number": spouse_id, "relationship": "spouse"})).body)["member_id"]
    mine = write_policy(me.id_number, "张三", me.account_id, payer_id=me.id_number, payment_method="personal_account",
                        account_source="current")
    hers = write_policy(spouse_id, "李四", me.account_id, payer_id=me.id_number, insured_member_id=member_id,
                        payment_method="personal_account", account_source="prior_years",
                        ytd_deductible_used_fen=1800000, ytd_eligible_fen=200001, ytd_paid_fen=150001)

    class Family:
        pass

    f = Family()
    f.me, f.spouse, f.my_policy, f.her_policy, f.member_id = me, spouse, mine, hers, member_id
    return f


def get(client, headers, path):
    return client.http.get(path, headers=headers)


def renew(client, headers, policy_id, enabled=True):
    return client.http.put(f"/v1/policies/{policy_id}/auto-renewal", headers=headers,
                           body=json.dumps({"enabled": enabled}))


# ---- reading -------------------------------------------------------------------------------------------------------
def test_the_insured_reads_the_whole_policy(client, family):
    resp = get(client, family.spouse.headers, f"/v1/policies/{family.her_policy}")

    assert resp.status_code == 200
    out = body(resp)
    spouse_id = family.spouse.id_number
    assert out["policy_id"] == family.her_policy and out["plan_id"] == "lishui-2021"
    assert out["plan_name"]
    assert out["insured"] == {"name": "李四", "id_number_masked": spouse_id[:6] + "********" + spouse_id[-4:]}
    assert out["payer"] == {"relationship": "spouse", "is_me": False, "name_masked": "张*"}
    assert out["status"] == "active"
    assert out["paid_at"] == "2021-04-15T10:00:00+08:00"
    assert (out["benefit_start"], out["coverage_end"], out["waiting_rule"]) == ("2021-10-15", "2021-12-31",
                                                                                 "late_six_months")
    assert out["auto_renew"] is False and out["auto_renew_consent"] is None
    assert out["year_to_date"] == {"deductible_used_fen": 1800000, "eligible_fen": 200001, "paid_fen": 150001}
    assert out["premium_fen"] == 15900 and out["payment_method"] == "personal_account" and out["order_id"]
    assert out["roles"] == ["insured", "view", "claims"]


def test_the_payer_sees_the_insureds_name_masked(client, family):
    out = body(get(client, family.me.headers, f"/v1/policies/{family.her_policy}"))

    assert out["insured"]["name"] == "李*"
    assert out["payer"]["is_me"] is True
    assert out["roles"] == ["payer", "view"]
    assert out["year_to_date"] is None  # her claim figures are hers: paying does not authorise seeing them


def test_a_policy_bought_for_oneself_says_self(client, family):
    out = body(get(client, family.me.headers, f"/v1/policies/{family.my_policy}"))

    assert out["insured"]["name"] == "张三"
    assert out["payer"]["relationship"] == "self"
    assert out["roles"] == ["insured", "payer", "view", "claims"]


def test_the_list_holds_each_policy_once_with_my_roles(client, family):
    mine = body(get(client, family.me.headers, "/v1/policies"))
    hers = body(get(client, family.spouse.headers, "/v1/policies"))

    assert {p["policy_id"]: p["roles"] for p in mine} == {
        family.my_policy: ["insured", "payer", "view", "claims"], family.her_policy: ["payer", "view"]}
    assert {p["policy_id"]: p["roles"] for p in hers} == {family.her_policy: ["insured", "view", "claims"]}


def test_a_second_user_neither_lists_nor_reads_nor_acts_on_anothers_policy(client, family):
    stranger = new_member(client, STRANGER, "钱七")

    assert body(get(client, stranger.headers, "/v1/policies")) == []
    for resp in (get(client, stranger.headers, f"/v1/policies/{family.her_policy}"),
                 renew(client, stranger.headers, family.her_policy)):
        assert resp.status_code == 404 and body(resp)["code"] == "POLICY_NOT_FOUND"


def test_an_unknown_policy_answers_like_someone_elses(client, family):
    unknown = get(client, family.me.headers, "/v1/policies/PNOSUCHPOLICY")
    foreign = get(client, new_member(client, STRANGER, "钱七").headers, f"/v1/policies/{family.my_policy}")

    assert (unknown.status_code, body(unknown)) == (foreign.status_code, body(foreign))


def test_an_account_without_identity_sees_only_what_it_paid_for(client, family):
    payer_only = login(client, STRANGER)
    from tests.helpers import account_id_of

    paid = write_policy(new_id(seq=777), "周八", account_id_of(payer_only))

    assert [p["policy_id"] for p in body(get(client, payer_only, "/v1/policies"))] == [paid]


# ---- authorisations ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scopes", [["view"], ["claims"]])
def test_an_authorised_relative_sees_the_policy_with_names_masked(client, family, scopes):
    client.http.post("/v1/authorizations", headers=family.spouse.headers,
                     body=json.dumps({"grantee_phone": GRANDSON, "scopes": scopes}))
    grandson = login(client, GRANDSON)

    listed = body(get(client, grandson, "/v1/policies"))
    detail = body(get(client, grandson, f"/v1/policies/{family.her_policy}"))

    assert [p["policy_id"] for p in listed] == [family.her_policy]
    assert detail["insured"]["name"] == "李*" and detail["payer"]["name_masked"] == "张*"
    assert detail["roles"] == ["view"] + (["claims"] if scopes == ["claims"] else [])
    assert detail["year_to_date"]["paid_fen"] == 150001  # she authorised this account
    assert get(client, grandson, f"/v1/policies/{family.my_policy}").status_code == 404  # not her policy


def test_revoking_the_authorisation_hides_the_policy_at_once(client, family):
    grant = body(client.http.post("/v1/authorizations", headers=family.spouse.headers,
                                  body=json.dumps({"grantee_phone": GRANDSON, "scopes": ["view"]})))
    grandson = login(client, GRANDSON)
    assert get(client, grandson, f"/v1/policies/{family.her_policy}").status_code == 200

    client.http.delete(f"/v1/authorizations/{grant['authorization_id']}", headers=family.spouse.headers)

    assert get(client, grandson, f"/v1/policies/{family.her_policy}").status_code == 404
    assert body(get(client, grandson, "/v1/policies")) == []


def test_a_view_authorisation_does_not_allow_changing_auto_renewal(client, family):
    client.http.post("/v1/authorizations", headers=family.spouse.headers,
                     body=json.dumps({"grantee_phone": GRANDSON, "scopes": ["view", "claims"]}))

    resp = renew(client, login(client, GRANDSON), family.her_policy)

    assert resp.status_code == 404


# ---- auto-renewal ----------------------------------------------------------------------------------------------
def stored(policy_id):
    from chalicelib import deps
    from chalicelib.adapters import keys

    return deps.table().get(keys.policy(policy_id))


def renewal_queue(plan_id="lishui-2021"):
    from chalicelib import deps
    from chalicelib.adapters.repositories.policies import PolicyRepository

    return list(PolicyRepository(deps.table()).renewal_mandates(plan_id))


def test_the_insured_employee_consents_to_renew_from_the_current_balance(client, family, clock):
    clock.set(datetime(2021, 5, 1, 9, 30, tzinfo=CHINA_TZ))

    resp = renew(client, family.me.headers, family.my_policy)

    assert resp.status_code == 200
    out = body(resp)
    assert out["auto_renew"] is True
    assert out["auto_renew_consent"] == {"at": "2021-05-01T09:30:00+08:00", "channel": "app",
                                         "payment_method": "personal_account", "payer_is_me": True}
    item = stored(family.my_policy)
    assert item["auto_renew_consent"] == {"at": "2021-05-01T09:30:00+08:00", "channel": "app",
                                          "payer_account_id": family.me.account_id,
                                          "payment_method": "personal_account", "account_source": "current"}
    from chalicelib.adapters import keys

    assert (item["GSI4PK"], item["GSI4SK"]) == tuple(keys.gsi_renewal(
        "lishui-2021", f"{family.me.account_id}#{family.my_policy}").values())
    assert item["version"] == 2
    assert renewal_queue() == [family.my_policy]


def test_the_payer_consents_for_a_spouse_from_prior_years_balance(client, family):
    resp = renew(client, family.me.headers, family.her_policy)

    assert resp.status_code == 200
    assert stored(family.her_policy)["auto_renew_consent"]["account_source"] == "prior_years"


def test_consent_given_in_the_mini_program_records_the_wechat_channel(client, family):
    from chalicelib import deps
    from chalicelib.adapters import keys

    deps.table().update(keys.account(family.me.account_id), "SET login_channel = :w", values={":w": "wechat"})

    renew(client, family.me.headers, family.my_policy)

    assert stored(family.my_policy)["auto_renew_consent"]["channel"] == "wechat"


def test_withdrawing_consent_takes_the_policy_out_of_the_renewal_run(client, family):
    renew(client, family.me.headers, family.my_policy)

    resp = renew(client, family.me.headers, family.my_policy, enabled=False)

    assert resp.status_code == 200 and body(resp)["auto_renew"] is False
    item = stored(family.my_policy)
    assert "GSI4PK" not in item and "auto_renew_consent" not in item
    assert item["auto_renew_withdrawal"]["account_id"] == family.me.account_id
    assert renewal_queue() == []


def test_the_insured_can_stop_a_renewal_the_payer_set_up(client, family):
    renew(client, family.me.headers, family.her_policy)

    resp = renew(client, family.spouse.headers, family.her_policy, enabled=False)

    assert resp.status_code == 200 and stored(family.her_policy)["auto_renew"] is False


def test_a_resident_without_a_personal_account_cannot_consent(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    resident = new_member(client, ME, "赵六", basic_type="resident")
    policy_id = write_policy(resident.id_number, "赵六", resident.account_id, payer_id=resident.id_number)

    resp = renew(client, resident.headers, policy_id)

    assert resp.status_code == 422 and body(resp)["code"] == "NO_PERSONAL_ACCOUNT"
    assert stored(policy_id)["auto_renew"] is False and renewal_queue() == []


def test_a_payer_without_identity_has_no_personal_account_to_renew_from(client, family):
    payer_only = login(client, STRANGER)
    from tests.helpers import account_id_of

    policy_id = write_policy(new_id(seq=778), "周八", account_id_of(payer_only))

    resp = renew(client, payer_only, policy_id)

    assert resp.status_code == 422 and body(resp)["code"] == "NO_PERSONAL_ACCOUNT"


def test_a_cancelled_policy_cannot_be_set_to_renew(client, family):
    cancelled = write_policy(family.me.id_number, "张三", family.me.account_id, plan_id="lishui-2022",
                             payer_id=family.me.id_number, status="cancelled")

    resp = renew(client, family.me.headers, cancelled)

    assert resp.status_code == 422 and body(resp)["code"] == "POLICY_NOT_ACTIVE"
    assert "退保" in body(resp)["message"]


def test_a_policy_that_changed_meanwhile_is_re_read_and_still_updated(client, family, monkeypatch):
    """A claim payment bumps the version between our read and our write: the consent is re-checked and stored."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.services import access

    real = access.policy_for
    bumped = []

    def load_then_bump(*args, **kwargs):
        result = real(*args, **kwargs)
        if not bumped:
            bumped.append(True)
            deps.table().update(keys.policy(family.my_policy), "SET version = version + :one", values={":one": 1})
        return result

    monkeypatch.setattr(access, "policy_for", load_then_bump)

    resp = renew(client, family.me.headers, family.my_policy)

    assert resp.status_code == 200
    assert stored(family.my_policy)["version"] == 3 and stored(family.my_policy)["auto_renew"] is True


@pytest.mark.parametrize("payload", [{}, {"enabled": "true"}, {"enabled": 1}, {"enabled": True, "x": 1}])
def test_auto_renewal_body_is_strict(client, family, payload):
    resp = client.http.put(f"/v1/policies/{family.my_policy}/auto-renewal", headers=family.me.headers,
                           body=json.dumps(payload))

    assert resp.status_code == 400


# ---- cancellation route (the service is the orders engineer's) ---------------------------------------------------
def test_cancel_needs_an_idempotency_key(client, family):
    resp = client.http.post(f"/v1/policies/{family.my_policy}/cancel", headers=family.me.headers, body=b"")

    assert resp.status_code == 400 and body(resp)["code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_a_second_user_cannot_cancel_anothers_policy(client, family):
    stranger = new_member(client, STRANGER, "钱七")

    resp = client.http.post(f"/v1/policies/{family.her_policy}/cancel",
                            headers={**stranger.headers, "Idempotency-Key": "cancel-attempt-1"}, body=b"")

    assert resp.status_code == 404 and body(resp)["code"] == "POLICY_NOT_FOUND"
    assert stored(family.her_policy)["status"] == "active"


def test_a_view_authorisation_does_not_allow_cancelling(client, family):
    client.http.post("/v1/authorizations", headers=family.spouse.headers,
                     body=json.dumps({"grantee_phone": GRANDSON, "scopes": ["view", "claims"]}))

    resp = client.http.post(f"/v1/policies/{family.her_policy}/cancel",
                            headers={**login(client, GRANDSON), "Idempotency-Key": "cancel-attempt-2"}, body=b"")

    assert resp.status_code == 404
    assert stored(family.her_policy)["status"] == "active"


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/policies"), ("GET", "/v1/policies/P1"), ("PUT", "/v1/policies/P1/auto-renewal"),
    ("POST", "/v1/policies/P1/cancel"),
])
def test_every_route_needs_a_login(client, method, path):
    resp = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")

    assert resp.status_code == 401


# ---- the policy's renewal object (API.md v1.1) ---------------------------------------------------------------------
def test_a_policy_never_consented_shows_renewal_off_with_the_next_plan(client, family):
    out = body(get(client, family.me.headers, f"/v1/policies/{family.my_policy}"))

    assert out["renewal"] == {"status": "off", "next_plan_id": "lishui-2022", "notice_sent_at": None,
                              "deduction_on": "2021-12-17", "amount_fen": 10700, "account_source": None,
                              "renewed_policy_id": None, "failure": None, "history": []}


def test_consent_then_stop_are_kept_as_history_with_who_and_channel(client, family, clock):
    clock.set(datetime(2021, 5, 1, 9, 30, tzinfo=CHINA_TZ))
    consented = body(renew(client, family.me.headers, family.my_policy))["renewal"]
    clock.set(datetime(2021, 6, 1, 9, 30, tzinfo=CHINA_TZ))
    stopped = body(renew(client, family.me.headers, family.my_policy, enabled=False))["renewal"]

    assert consented["status"] == "consented" and consented["account_source"] == "current"
    assert stopped["status"] == "stopped"
    assert stopped["history"] == [
        {"at": "2021-05-01T09:30:00+08:00", "event": "consent", "channel": "app", "by": "me"},
        {"at": "2021-06-01T09:30:00+08:00", "event": "stop", "channel": "app", "by": "me"}]
    # the insured (another account) sees the payer's consent, without the payer's account id
    seen = body(get(client, family.spouse.headers, f"/v1/policies/{family.her_policy}"))["renewal"]
    assert seen["status"] == "off"


def test_the_insured_sees_the_payers_consent_as_a_members(client, family):
    renew(client, family.me.headers, family.her_policy)

    seen = body(get(client, family.spouse.headers, f"/v1/policies/{family.her_policy}"))["renewal"]

    assert seen["status"] == "consented" and seen["account_source"] == "prior_years"
    assert [e["by"] for e in seen["history"]] == ["member"]
    assert family.me.account_id not in json.dumps(seen)


def test_a_wechat_paid_policy_cannot_be_switched_to_renew(client, family):
    from chalicelib import deps
    from chalicelib.adapters import keys

    wechat = family.my_policy
    deps.table().update(keys.policy(wechat), "SET payment_method = :w", values={":w": "wechat_pay"})
    stored_before = stored(wechat)

    resp = renew(client, family.me.headers, wechat)

    assert resp.status_code == 422 and body(resp)["code"] == "AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT"
    assert stored(wechat) == stored_before and renewal_queue() == []


@pytest.mark.parametrize("record", [
    {"next_plan_id": "lishui-2022", "status": "renewed", "renewed_policy_id": "PNEW"},
    {"next_plan_id": "lishui-2022", "status": "noticed", "deduction_started_at": "2021-12-17T02:00:00+08:00"},
])
def test_stopping_once_the_deduction_is_done_or_under_way_is_refused(client, family, record):
    renew(client, family.me.headers, family.my_policy)
    from chalicelib import deps
    from chalicelib.adapters import keys

    deps.table().update(keys.policy(family.my_policy), "SET renewal = :r", values={":r": record})
    before = stored(family.my_policy)

    resp = renew(client, family.me.headers, family.my_policy, enabled=False)

    assert resp.status_code == 422 and body(resp)["code"] == "RENEWAL_ALREADY_DEDUCTED"
    assert stored(family.my_policy) == before


def test_a_renewed_policy_shows_the_new_policy_and_a_failed_one_the_reason(client, family):
    from chalicelib import deps
    from chalicelib.adapters import keys

    renew(client, family.me.headers, family.my_policy)
    deps.table().update(keys.policy(family.my_policy), "SET renewal = :r", values={":r": {
        "next_plan_id": "lishui-2022", "status": "renewed", "renewed_policy_id": "PNEW",
        "notice_sent_at": "2021-11-01T08:00:00+08:00"}})
    renew(client, family.me.headers, family.her_policy)
    deps.table().update(keys.policy(family.her_policy), "SET renewal = :r", values={":r": {
        "next_plan_id": "lishui-2022", "status": "failed", "failure_code": "INSUFFICIENT_BALANCE"}})

    mine = body(get(client, family.me.headers, f"/v1/policies/{family.my_policy}"))["renewal"]
    hers = body(get(client, family.me.headers, f"/v1/policies/{family.her_policy}"))["renewal"]

    assert (mine["status"], mine["renewed_policy_id"], mine["notice_sent_at"]) == (
        "renewed", "PNEW", "2021-11-01T08:00:00+08:00")
    assert hers["status"] == "failed" and hers["failure"]["code"] == "INSUFFICIENT_BALANCE"
    assert "余额不足" in hers["failure"]["message"]


# ---- a stop recorded at a counter (PUT /v1/admin/policies/{id}/auto-renewal) ---------------------------------------
def counter(client, policy_id, role="bureau", **body_fields):
    from tests.claim_helpers import staff

    payload = {"enabled": False, "channel": "counter", "note": "本人到窗口申请关闭", **body_fields}
    return client.http.put(f"/v1/admin/policies/{policy_id}/auto-renewal", headers=staff(role, "S-0042"),
                           body=json.dumps(payload))


def test_staff_record_a_stop_at_the_counter_with_who_and_the_note(client, family, clock):
    renew(client, family.me.headers, family.my_policy)
    clock.set(datetime(2021, 11, 5, 14, 0, tzinfo=CHINA_TZ))

    resp = counter(client, family.my_policy)

    assert resp.status_code == 200, resp.body
    out = body(resp)
    assert out["auto_renew"] is False and out["renewal"]["status"] == "stopped"
    assert out["renewal"]["history"][-1] == {"at": "2021-11-05T14:00:00+08:00", "event": "stop",
                                             "channel": "counter", "by": "staff"}
    item = stored(family.my_policy)
    assert item["renewal_history"][-1]["by"] == "S-0042" and item["renewal_history"][-1]["note"] == "本人到窗口申请关闭"
    assert renewal_queue() == []
    mine = body(get(client, family.me.headers, f"/v1/policies/{family.my_policy}"))["renewal"]
    assert mine["status"] == "stopped" and mine["history"][-1]["by"] == "staff"


def test_the_counter_route_is_for_counter_roles_stops_only_and_not_after_the_deduction(client, family):
    from chalicelib import deps
    from chalicelib.adapters import keys

    renew(client, family.me.headers, family.my_policy)
    reviewer = counter(client, family.my_policy, role="claims_reviewer")
    consent = counter(client, family.my_policy, enabled=True)
    member = client.http.put(f"/v1/admin/policies/{family.my_policy}/auto-renewal", headers=family.me.headers,
                             body=json.dumps({"enabled": False, "channel": "counter"}))
    unknown = counter(client, "PNOSUCHPOLICY")
    deps.table().update(keys.policy(family.my_policy), "SET renewal = :r", values={":r": {
        "next_plan_id": "lishui-2022", "status": "renewed", "renewed_policy_id": "PNEW"}})
    after = counter(client, family.my_policy)

    assert (reviewer.status_code, body(reviewer)["code"]) == (403, "STAFF_ROLE_NOT_ALLOWED")
    assert (consent.status_code, body(consent)["code"]) == (422, "RENEWAL_CONSENT_BY_MEMBER")
    assert member.status_code == 403
    assert (unknown.status_code, body(unknown)["code"]) == (404, "POLICY_NOT_FOUND")
    assert (after.status_code, body(after)["code"]) == (422, "RENEWAL_ALREADY_DEDUCTED")
    assert stored(family.my_policy)["auto_renew"] is True
