"""GET /v1/disclosure/{plan_id}: public figures that move with the money — once per issued policy, out on
cancellation, up on each paid claim — and never name anybody."""
from __future__ import annotations

import json

import pytest

from tests.claim_helpers import NOW, W1_PAYOUT, complete, pay, review, submit
from tests.orders_support import IN_WINDOW, Family


def disclosure(client, plan_id: str = "lishui-2021"):
    resp = client.http.get(f"/v1/disclosure/{plan_id}")
    return resp.status_code, json.loads(resp.body)


def county(report: dict, code: str) -> dict:
    return next(c for c in report["by_county"] if c["county"] == code)


def channel(report: dict, name: str) -> dict:
    return next(c for c in report["by_channel"] if c["channel"] == name)


@pytest.fixture()
def family(client, clock):
    """A payer in 莲都区 with a spouse in 青田县 and a child in 莲都区, on the simulated 医保 platform."""
    clock.set(IN_WINDOW)
    fam = Family(client, county="331102")
    fam.relative("spouse", "spouse", county="331121")
    fam.relative("child", "child", county="331102")
    return fam


def test_a_family_order_in_two_counties_is_counted_once_per_person_where_they_are_insured(client, family):
    status, order = family.order(["self", "spouse", "child"])
    assert (status, order["status"]) == (201, "paid")
    status, report = disclosure(client)
    assert status == 200
    assert (county(report, "331102")["enrolled"], county(report, "331102")["premium_fen"]) == (2, 20000)
    assert (county(report, "331121")["enrolled"], county(report, "331121")["premium_fen"]) == (1, 10000)
    assert county(report, "331121")["county_name"] == "青田县"
    assert county(report, "331122")["enrolled"] == 0
    assert (channel(report, "personal_account")["enrolled"], channel(report, "wechat_pay")["enrolled"]) == (3, 0)
    assert [(c["county"], c["channel"], c["enrolled"]) for c in report["by_county_channel"]] == [
        ("331102", "personal_account", 2), ("331121", "personal_account", 1)]
    assert (report["totals"]["enrolled"], report["totals"]["premium_fen"]) == (3, 30000)


def test_a_retried_order_with_the_same_key_is_counted_once(client, family):
    first = family.order(["self", "spouse"], key="order-key-disclosure-1")
    again = family.order(["self", "spouse"], key="order-key-disclosure-1")
    assert first == again and first[0] == 201
    assert disclosure(client)[1]["totals"]["enrolled"] == 2


def test_a_duplicate_wechat_notification_is_counted_once(client, family):
    from chalicelib import deps

    _, order = family.order(["self", "spouse"], payment_method="wechat_pay")
    assert disclosure(client)[1]["totals"]["enrolled"] == 0  # nothing counts before the money arrives
    headers, body = deps.wechat_pay().simulator.pay(order["order_id"])
    for _ in range(2):  # WeChat retries the same notification
        resp = client.http.post("/v1/payments/wechat/notify", headers=headers, body=body)
        assert resp.status_code == 200
    _, report = disclosure(client)
    assert (channel(report, "wechat_pay")["enrolled"], channel(report, "wechat_pay")["premium_fen"]) == (2, 20000)
    assert (county(report, "331102")["enrolled"], county(report, "331121")["enrolled"]) == (1, 1)


def test_a_cancellation_before_benefits_start_takes_the_policy_out(client, family):
    _, order = family.order(["self", "spouse"])
    spouses = next(p["policy_id"] for p in order["policies"] if p["insured"] == family.members["spouse"])
    resp = client.http.post(f"/v1/policies/{spouses}/cancel",
                            headers={**family.headers, "Idempotency-Key": "cancel-disclosure-1"})
    assert resp.status_code == 200, resp.body
    client.http.post(f"/v1/policies/{spouses}/cancel",  # the same request again changes nothing
                     headers={**family.headers, "Idempotency-Key": "cancel-disclosure-1"})
    _, report = disclosure(client)
    assert {k: county(report, "331121")[k] for k in ("enrolled", "premium_fen", "cancelled")} == {
        "enrolled": 0, "premium_fen": 0, "cancelled": 1}
    assert (report["totals"]["enrolled"], report["totals"]["premium_fen"]) == (1, 10000)


def test_a_paid_claim_adds_to_the_paid_figures_and_the_loss_ratio_once(client, clock, family):
    _, order = family.order(["self"])
    clock.set(NOW)
    status, claim = submit(client, family.headers, order["policies"][0]["policy_id"])
    assert status == 201, claim
    complete(client, family.headers, claim["claim_id"])
    assert review(client, claim["claim_id"], "approve")[0] == 200
    assert disclosure(client)[1]["totals"]["claims_paid"] == 0  # approval moves no money
    assert pay(client, claim["claim_id"], key="pay-disclosure-1")[0] == 200
    assert pay(client, claim["claim_id"], key="pay-disclosure-1")[0] == 200  # replayed: counted once
    _, report = disclosure(client)
    paid = county(report, "331102")
    assert (paid["claims_paid"], paid["paid_fen"]) == (1, W1_PAYOUT)
    # 4,650,000 ÷ (10,000 × (1 − 5%)) = 489.47368… → 489.4737
    assert paid["loss_ratio"] == report["totals"]["loss_ratio"] == "489.4737"
    assert channel(report, "personal_account")["paid_fen"] == W1_PAYOUT


def test_the_report_is_public_and_names_nobody(client, family):
    from chalicelib import deps

    _, order = family.order(["self", "spouse", "child"])
    resp = client.http.get("/v1/disclosure/lishui-2021")  # no Authorization header
    assert resp.status_code == 200
    text = resp.body.decode()
    secrets = [order["order_id"], *(p["policy_id"] for p in order["policies"]), *(p["name"] for p in order["policies"]),
               *family.ids.values(), *(deps.cipher().lookup_hash(i) for i in family.ids.values()),
               *family.members.values()]
    assert not [s for s in secrets if s in text]
    assert "王建国" not in text


def test_an_unknown_plan_is_404(client):
    status, body = disclosure(client, "nowhere-2030")
    assert (status, body["code"]) == (404, "PLAN_NOT_FOUND")


def test_a_plan_without_sales_reports_zeros_and_its_targets(client):
    status, report = disclosure(client, "dengfeng-2019")
    assert status == 200
    assert [c["county_name"] for c in report["by_county"]] == ["登封市"]
    assert report["totals"]["enrolled"] == 0 and report["totals"]["loss_ratio"] is None
    assert report["participation_target"] is None and report["loss_ratio_target"] == "0.95"
