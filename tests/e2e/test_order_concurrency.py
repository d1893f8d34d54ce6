"""e2e over HTTP against `make run` (issue 9 "must show"): a person is reserved before money moves, so concurrent
orders for one insured, two payers for one parent and a second WeChat order are refused before anything is charged
— the simulated 医保 platform's statement shows exactly one deduction and no refund."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.conftest import Api
from tests.e2e.test_family_order import IN_WINDOW, order, payer_with_family, person
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

N = 20


def statement(api, id_number: str) -> dict:
    return api.get(f"/sandbox/people/{id_number}").body


def test_concurrent_orders_for_one_insured_with_different_keys_charge_once_and_refund_nothing(api):
    ids, refs = payer_with_family(api, "13700000101", 601)

    with ThreadPoolExecutor(N) as pool:
        replies = list(pool.map(lambda _: order(api, ["self"]), range(N)))

    assert sorted(r.status for r in replies) == [201] + [409] * (N - 1), [r.body for r in replies]
    assert {r.body["code"] for r in replies if r.status == 409} <= {"ORDER_IN_FLIGHT", "ALREADY_COVERED"}
    platform = statement(api, ids["self"])
    assert (len(platform["deductions"]), len(platform["refunds"])) == (1, 0)
    assert platform["account_current_fen"] == 40_000
    assert len(api.get("/v1/policies").body) == 1


def test_two_payers_ordering_for_one_parent_charge_once(base_url):
    api, other = Api(base_url), Api(base_url)
    assert api.put("/sandbox/clock", {"now": IN_WINDOW}).status == 200
    parent_id = make_test_id("331102", date(1950, 6, 6), 611)
    person(api, "王德福", parent_id)
    payers = []
    for phone, seq, name, client in (("13700000111", 613, "王建国", api), ("13700000113", 615, "王建军", other)):
        payer_id = make_test_id("331102", date(1978, 4, 4), seq)
        person(client, name, payer_id, account_current_fen=50_000, account_prior_years_fen=100_000)
        login_by_sms(client, phone)
        assert client.put("/v1/me/identity", {"name": name, "id_number": payer_id}).status == 200
        added = client.post("/v1/family-members", {"name": "王德福", "id_number": parent_id, "relationship": "parent"})
        assert added.status == 201, added.body
        payers.append((client, payer_id, added.body["member_id"]))

    jobs = [(client, member) for client, _, member in payers for _ in range(10)]
    with ThreadPoolExecutor(N) as pool:
        replies = list(pool.map(lambda job: order(job[0], [job[1]]), jobs))

    assert sorted(r.status for r in replies) == [201] + [409] * (len(jobs) - 1), [r.body for r in replies]
    deductions = [d for _, payer_id, _ in payers for d in statement(api, payer_id)["deductions"]]
    refunds = [r for _, payer_id, _ in payers for r in statement(api, payer_id)["refunds"]]
    assert (len(deductions), len(refunds)) == (1, 0)


def test_a_second_wechat_order_for_a_pending_insured_is_409_and_the_first_can_be_resumed(api):
    _, refs = payer_with_family(api, "13700000121", 621)
    first = order(api, refs[1:], payment_method="wechat_pay")
    assert first.status == 201 and first.body["status"] == "pending_payment", first.body

    second = order(api, refs[1:2], payment_method="wechat_pay")

    assert second.status == 409 and second.body["code"] == "ORDER_IN_FLIGHT", second.body
    assert second.body["details"]["order_id"] == first.body["order_id"]
    assert second.body["details"]["expires_at"] == first.body["expires_at"]
    resumed = api.get(f"/v1/orders/{first.body['order_id']}")  # the pay sheet, signed afresh
    assert resumed.status == 200 and resumed.body["wechat_pay"]["signType"] == "RSA"
    listed = api.get("/v1/orders").body
    assert [o.get("wechat_pay") for o in listed] == [None]  # a list read signs nothing


def test_identical_requests_with_one_key_make_one_order(api):
    ids, refs = payer_with_family(api, "13700000131", 631)
    key = f"e2e-one-key-{uuid.uuid4().hex[:8]}"

    with ThreadPoolExecutor(N) as pool:
        replies = list(pool.map(lambda _: order(api, refs, key=key), range(N)))

    assert {r.status for r in replies} <= {201, 409}, [r.body for r in replies]
    paid = [r.body for r in replies if r.status == 201]
    assert paid and len({p["order_id"] for p in paid}) == 1
    assert {r.body["code"] for r in replies if r.status == 409} <= {"IDEMPOTENCY_IN_FLIGHT"}
    again = order(api, refs, key=key)
    assert again.status == 201 and again.body["order_id"] == paid[0]["order_id"]  # the first answer, again
    assert len(api.get("/v1/orders").body) == 1
    platform = statement(api, ids["self"])
    assert (len(platform["deductions"]), len(platform["refunds"])) == (2, 0)  # current + 历年结余, once each
