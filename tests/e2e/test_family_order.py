"""e2e over HTTP against `make run`: a family order of three from the personal account leaves the simulated
platform's balances exactly right; concurrent duplicates give one cover and one charge; WeChat Pay issues on the
simulator's signed notification, and a duplicate notification changes nothing."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

IN_WINDOW = "2020-12-15T10:00:00+08:00"


def person(api, name: str, id_number: str, **fields) -> None:
    body = {"name": name, "id_number": id_number, "city": "331100", "basic_type": "employee", "status": "active",
            **fields}
    created = api.post("/sandbox/people", body)
    assert created.status == 201, created.body


def payer_with_family(api, phone: str, seq: int) -> tuple[dict[str, str], list[str]]:
    """A payer (current 500 yuan, 历年结余 1000 yuan) with a spouse and a child; returns ids and insured refs."""
    assert api.put("/sandbox/clock", {"now": IN_WINDOW}).status == 200
    ids = {"self": make_test_id("331102", date(1980, 1, 1), seq),
           "spouse": make_test_id("331102", date(1982, 2, 2), seq + 2),
           "child": make_test_id("331102", date(2010, 3, 3), seq + 4)}
    person(api, "王建国", ids["self"], account_current_fen=50_000, account_prior_years_fen=100_000)
    person(api, "李秀英", ids["spouse"])
    person(api, "王小明", ids["child"], basic_type="resident")
    login_by_sms(api, phone)
    assert api.put("/v1/me/identity", {"name": "王建国", "id_number": ids["self"]}).status == 200
    refs = ["self"]
    for relation, name in (("spouse", "李秀英"), ("child", "王小明")):
        added = api.post("/v1/family-members", {"name": name, "id_number": ids[relation], "relationship": relation})
        assert added.status == 201, added.body
        refs.append(added.body["member_id"])
    return ids, refs


def order(api, refs, payment_method="personal_account", key=None):
    return api.post("/v1/orders", {"plan_id": "lishui-2021", "insured": refs, "payment_method": payment_method},
                    headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_family_order_of_three_from_the_personal_account(api, another_api):
    ids, refs = payer_with_family(api, "13700000001", 101)
    placed = order(api, refs)
    assert placed.status == 201 and placed.body["status"] == "paid", placed.body
    assert len(placed.body["policies"]) == 3
    platform = api.get(f"/sandbox/people/{ids['self']}").body
    assert (platform["account_current_fen"], platform["account_prior_years_fen"]) == (40_000, 80_000)
    assert sorted(d["amount_fen"] for d in platform["deductions"]) == [10_000, 20_000]
    policies = api.get("/v1/policies")
    assert policies.status == 200 and len(policies.body) == 3
    login_by_sms(another_api, "13700000002")
    assert another_api.get(f"/v1/orders/{placed.body['order_id']}").status == 404  # a second user sees nothing


def test_concurrent_duplicates_give_one_cover_and_one_charge(api):
    ids, refs = payer_with_family(api, "13700000003", 201)

    def attempt(_):
        return order(api, refs, key="e2e-same-key-0001")

    with ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(attempt, range(5)))
    assert {r.status for r in replies} <= {201, 409}, [r.body for r in replies]
    assert any(r.status == 201 for r in replies)
    platform = api.get(f"/sandbox/people/{ids['self']}").body
    assert (platform["account_current_fen"], platform["account_prior_years_fen"]) == (40_000, 80_000)
    assert len(platform["deductions"]) == 2
    assert len(api.get("/v1/policies").body) == 3


def test_wechat_pay_issues_on_the_signed_notification_once(api):
    ids, refs = payer_with_family(api, "13700000005", 301)
    placed = order(api, refs[1:], payment_method="wechat_pay")
    assert placed.status == 201 and placed.body["status"] == "pending_payment", placed.body
    assert placed.body["wechat_pay"]["signType"] == "RSA"
    order_id = placed.body["order_id"]
    first = api.post(f"/sandbox/wechat/pay/{order_id}", {"result": "success"})
    assert first.status == 200 and first.body["notify_status"] == 200, first.body
    again = api.post(f"/sandbox/wechat/pay/{order_id}", {"result": "success"})  # WeChat notifies again
    assert again.body["notify_response"] == {"code": "SUCCESS"}
    paid = api.get(f"/v1/orders/{order_id}").body
    assert paid["status"] == "paid" and len(paid["policies"]) == 2
    assert len(api.get("/v1/policies").body) == 2
    platform = api.get(f"/sandbox/people/{ids['self']}").body
    assert platform["deductions"] == []  # WeChat, not the personal account


def test_cancel_before_coverage_starts_refunds_over_http(api):
    ids, refs = payer_with_family(api, "13700000007", 401)
    placed = order(api, refs[:2])
    policy_id = placed.body["policies"][1]["policy_id"]
    cancelled = api.post(f"/v1/policies/{policy_id}/cancel", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert cancelled.status == 200 and cancelled.body["refund"]["status"] == "refunded", cancelled.body
    platform = api.get(f"/sandbox/people/{ids['self']}").body
    assert (platform["account_current_fen"], platform["account_prior_years_fen"]) == (40_000, 100_000)
    reconciled = api.post("/sandbox/jobs/reconcile")
    assert reconciled.status == 200 and reconciled.body["still_pending"] == 0
