"""POST/GET /v1/orders through HTTP with the clock set: DOMAIN §2–§4 rules, all-or-nothing, idempotency, BOLA."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import bind_identity, login, new_id, register_person
from tests.orders_support import IN_WINDOW, Family, post_order


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    return Family(client)


def test_family_order_from_personal_account_issues_every_policy_and_charges_each_part_once(family):
    family.relative("spouse", "spouse")
    family.relative("child", "child", born=date(2010, 1, 1))

    status, order = family.order(["self", "spouse", "child"])

    assert status == 201, order
    assert order["status"] == "paid" and order["amount_fen"] == 30000
    assert len(order["policies"]) == 3
    assert {i["waiting_rule"] for i in order["insured"]} == {"in_window"}
    statement = family.balances()
    assert statement["account_current_fen"] == 50000 - 10000  # self from the current balance
    assert statement["account_prior_years_fen"] == 100000 - 20000  # two relatives from 历年结余
    assert sorted(d["amount_fen"] for d in statement["deductions"]) == [10000, 20000]


def test_policies_carry_benefit_start_and_can_be_read_back(family, client):
    status, order = family.order(["self"])
    resp = client.http.get(f"/v1/orders/{order['order_id']}", headers=family.headers)
    assert resp.status_code == 200
    again = json.loads(resp.body)
    assert again["status"] == "paid" and again["insured"][0]["benefit_start"] == "2021-01-01"
    listed = json.loads(client.http.get("/v1/orders", headers=family.headers).body)
    assert [o["order_id"] for o in listed] == [order["order_id"]]


@pytest.mark.parametrize("paid_on, expected_start, rule", [
    (at(2020, 12, 31, 23, 59), "2021-01-01", "in_window"),
    (at(2021, 1, 1, 9), "2021-01-02", "first_year_grace"),
    (at(2021, 3, 31, 9), "2021-04-01", "first_year_grace"),
    (at(2021, 4, 1, 9), "2021-10-01", "late_six_months"),
    (at(2021, 5, 31, 9), "2021-11-30", "late_six_months"),  # 31 May + 6 months → 30 Nov (month end)
])
def test_benefit_start_follows_the_payment_date(client, clock, paid_on, expected_start, rule):
    clock.set(IN_WINDOW)
    family = Family(client)
    clock.set(paid_on)
    status, order = family.order(["self"])
    assert status == 201, order
    assert (order["insured"][0]["benefit_start"], order["insured"][0]["waiting_rule"]) == (expected_start, rule)


def test_too_late_to_start_is_refused_and_charges_nothing(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client)
    clock.set(at(2021, 7, 1, 9))  # + 6 months = 2022-01-01, after coverage ends
    status, body = family.order(["self"])
    assert status == 422 and body["code"] == "BENEFITS_CANNOT_START"
    assert family.balances()["deductions"] == []


def test_life_event_newborn_starts_with_basic_insurance(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client)
    clock.set(at(2021, 6, 15, 9))  # 45 days after birth: within the 90-day limit, long after the window
    family.relative("baby", "child", basic_type="resident", born=date(2021, 5, 1),
                    basic_start=date(2021, 5, 1), life_events=[{"kind": "newborn", "date": "2021-05-01"}])
    status, order = family.order(["baby"], payment_method="wechat_pay")
    assert status == 201, order
    assert (order["insured"][0]["benefit_start"], order["insured"][0]["waiting_rule"]) == ("2021-05-01",
                                                                                        "life_event")


def test_basic_insurance_restored_waits_six_months_from_restoration(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client, restored_on=date(2020, 10, 31))
    status, order = family.order(["self"])
    assert status == 201, order
    assert (order["insured"][0]["benefit_start"], order["insured"][0]["waiting_rule"]) == ("2021-04-30",
                                                                                        "basic_restored")


def test_renewal_without_a_gap_starts_at_coverage_start(client, clock):
    from chalicelib import deps
    from chalicelib.adapters import keys

    clock.set(at(2021, 12, 10, 9))  # 浙丽保 2022 window; the member was covered in 2021
    family = Family(client)
    id_hash = deps.cipher().lookup_hash(family.id_number)
    deps.table().put({**keys.cover_marker("lishui-2021", id_hash), "policy_id": "POL-2021", "plan_id": "lishui-2021"})
    status, order = family.order(["self"], plan_id="lishui-2022")
    assert status == 201, order
    assert order["insured"][0]["waiting_rule"] == "renewal"


def test_dengfeng_has_no_late_enrolment(client, clock):
    clock.set(at(2018, 11, 10, 9))
    person_id = new_id("410185", date(1970, 1, 1))
    register_person("赵登封", person_id, city="410185", basic_type="resident")
    headers = login(client, "13800000077")
    bind_identity(client, headers, "赵登封", person_id)
    body = {"plan_id": "dengfeng-2018", "insured": ["self"], "payment_method": "wechat_pay"}
    status, order = post_order(client, headers, body)
    assert status == 201 and order["insured"][0]["benefit_start"] == "2018-12-01", order
    clock.set(at(2018, 12, 1, 9))
    status, refused = post_order(client, headers, body)
    assert status == 422 and refused["code"] == "PLAN_CLOSED"


def test_dengfeng_refuses_employees_and_excluded_programmes(client, clock):
    clock.set(at(2018, 11, 10, 9))
    person_id = new_id("410185", date(1970, 1, 1))
    register_person("钱登封", person_id, city="410185", basic_type="resident",
                    special_groups=["困难群众大病补充医疗保险"])
    headers = login(client, "13800000078")
    bind_identity(client, headers, "钱登封", person_id)
    status, body = post_order(client, headers, {"plan_id": "dengfeng-2018", "insured": ["self"],
                                                "payment_method": "wechat_pay"})
    assert status == 422 and body["code"] == "EXCLUDED_PROGRAMME" and body["details"]["insured"] == "self"


def test_suspended_basic_insurance_is_refused_naming_who(family):
    member = family.relative("parent", "parent", status="suspended", born=date(1950, 1, 1))
    status, body = family.order(["self", "parent"])
    assert status == 422 and body["code"] == "BASIC_INSURANCE_SUSPENDED"
    assert body["details"]["insured"] == member
    assert family.balances()["deductions"] == []  # all or nothing: self not charged either


def test_other_city_relative_cannot_be_covered(family):
    family.relative("spouse", "spouse", city="330100")
    status, body = family.order(["spouse"], payment_method="wechat_pay")
    assert status == 422 and body["code"] == "NOT_IN_PLAN_CITY"


def test_relationship_not_allowed_for_prior_years_balance(family):
    family.relative("friend", "other")
    status, body = family.order(["friend"])
    assert status == 422 and body["code"] == "RELATIONSHIP_NOT_ALLOWED"


def test_resident_has_no_personal_account(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client, basic_type="resident", current_fen=0, prior_years_fen=0)
    status, body = family.order(["self"])
    assert status == 422 and body["code"] == "NO_PERSONAL_ACCOUNT"


def test_insufficient_prior_years_balance_charges_nothing(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client, prior_years_fen=15000)
    family.relative("spouse", "spouse")
    family.relative("child", "child", born=date(2010, 1, 1))
    status, body = family.order(["self", "spouse", "child"])
    assert status == 422 and body["code"] == "INSUFFICIENT_BALANCE"
    assert body["details"]["account_source"] == "prior_years"
    statement = family.balances()
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (50000, 15000)


def test_second_purchase_for_a_covered_person_is_409_by_anyone(client, family):
    status, _ = family.order(["self"])
    assert status == 201
    other = login(client, "13900000002")
    register_person("孙付款", other_id := new_id("331102", date(1975, 1, 1)), current_fen=0, prior_years_fen=50000)
    bind_identity(client, other, "孙付款", other_id)
    from tests.orders_support import add_member

    member = add_member(client, other, family.person.name, family.id_number, "sibling")
    status, body = post_order(client, other, {"plan_id": "lishui-2021", "insured": [member],
                                              "payment_method": "personal_account"})
    assert status == 409 and body["code"] == "ALREADY_COVERED"
    from chalicelib import deps

    assert deps.platform().statement(other_id)["deductions"] == []


@pytest.mark.parametrize("insured, status_code, code", [
    ([], 400, "VALIDATION_FAILED"),
    (["self", "self"], 400, "DUPLICATE_INSURED"),
    (["M000000000000000000000"], 404, "MEMBER_NOT_FOUND"),
    (["self"] * 1 + [f"M{i:020d}" for i in range(10)], 400, "VALIDATION_FAILED"),  # OpenAPI maxItems 10
])
def test_bad_insured_lists_are_refused(family, insured, status_code, code):
    status, body = family.order(insured)
    assert (status, body["code"]) == (status_code, code)
    assert family.balances()["deductions"] == []


def test_someone_elses_member_id_is_not_found(client, family):
    member = family.relative("spouse", "spouse")
    other = login(client, "13900000003")
    status, body = post_order(client, other, {"plan_id": "lishui-2021", "insured": [member],
                                              "payment_method": "wechat_pay"})
    assert status == 404 and body["code"] == "MEMBER_NOT_FOUND"


def test_plan_not_open_yet(client, clock):
    clock.set(at(2020, 11, 1, 9))
    family = Family(client)
    status, body = family.order(["self"])
    assert status == 422 and body["code"] == "PLAN_NOT_OPEN"


def test_unknown_plan_is_404(family):
    status, body = family.order(["self"], plan_id="nowhere-2021")
    assert status == 404 and body["code"] == "PLAN_NOT_FOUND"


def test_idempotency_key_replays_the_first_answer_and_charges_once(family):
    first = family.order(["self"], key="order-key-0001")
    second = family.order(["self"], key="order-key-0001")
    assert first == second and first[0] == 201
    assert len(family.balances()["deductions"]) == 1


def test_idempotency_key_reused_with_another_body_is_409(family):
    family.relative("spouse", "spouse")
    assert family.order(["self"], key="order-key-0002")[0] == 201
    status, body = family.order(["spouse"], key="order-key-0002")
    assert status == 409 and body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(family.balances()["deductions"]) == 1


def test_missing_idempotency_key_is_400(client, family):
    resp = client.http.post("/v1/orders", headers=family.headers,
                            body=json.dumps({"plan_id": "lishui-2021", "insured": ["self"],
                                             "payment_method": "personal_account"}))
    assert resp.status_code == 400 and json.loads(resp.body)["code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_auto_renew_needs_the_personal_account(family):
    status, body = family.order(["self"], payment_method="wechat_pay", auto_renew=True)
    assert status == 422 and body["code"] == "AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT"


def test_auto_renew_consent_is_recorded_on_the_policy(family):
    from chalicelib import deps
    from chalicelib.adapters import keys

    status, order = family.order(["self"], auto_renew=True)
    assert status == 201
    policy = deps.table().get(keys.policy(order["policies"][0]["policy_id"]))
    assert policy["auto_renew"] is True and policy["auto_renew_consent"]["account_source"] == "current"
    assert policy["GSI4PK"].startswith("RENEWAL#lishui-2021#")  # the renewal index, sharded


def test_relatives_limit_counts_those_already_paid_by_this_payer(client, clock, monkeypatch):
    from chalicelib.plans import get_plan

    clock.set(IN_WINDOW)
    plan = get_plan("lishui-2021")
    monkeypatch.setattr(plan.personal_account, "__dict__", {**plan.personal_account.__dict__,
                                                            "max_relatives_per_payer": 1})
    family = Family(client)
    family.relative("spouse", "spouse")
    family.relative("child", "child", born=date(2010, 1, 1))
    assert family.order(["spouse"])[0] == 201
    status, body = family.order(["child"])
    assert status == 422 and body["code"] == "TOO_MANY_RELATIVES"
    assert body["details"]["already"] == 1


def test_a_second_user_cannot_see_the_first_users_order(client, family):
    _, order = family.order(["self"])
    stranger = login(client, "13900000009")
    resp = client.http.get(f"/v1/orders/{order['order_id']}", headers=stranger)
    assert resp.status_code == 404 and json.loads(resp.body)["code"] == "ORDER_NOT_FOUND"
    assert json.loads(client.http.get("/v1/orders", headers=stranger).body) == []


def test_orders_need_a_login(client):
    resp = client.http.get("/v1/orders")
    assert resp.status_code == 401


def test_work_queue_holds_only_orders_that_still_need_work(family, client):
    """GSI3 is sparse and sharded: a paid order leaves the reconciliation queue; a WeChat order waits in one shard."""
    from chalicelib import deps
    from chalicelib.adapters import keys

    status, paid = family.order(["self"])
    assert status == 201 and paid["status"] == "paid"
    assert "GSI3PK" not in deps.table().get(keys.order(paid["order_id"]))

    family.relative("spouse", "spouse")
    status, pending = family.order(["spouse"], payment_method="wechat_pay")
    assert status == 201 and pending["status"] == "pending_payment"
    queued = deps.table().get(keys.order(pending["order_id"]))["GSI3PK"]
    assert queued in keys.work_queue_partitions("ORDER", "pending_payment")
