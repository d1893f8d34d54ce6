"""Cancellation (DOMAIN §3 refunds): before benefits start, a full refund to the original method; not after.
The family order's other policies stay valid; a refund that fails is finished by reconciliation."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import login
from tests.orders_support import IN_WINDOW, Family


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    fam = Family(client)
    fam.relative("spouse", "spouse")
    return fam


def cancel(client, headers, policy_id, key="cancel-key-0001"):
    resp = client.http.post(f"/v1/policies/{policy_id}/cancel", headers={**headers, "Idempotency-Key": key},
                            body="")
    return resp.status_code, json.loads(resp.body)


def bought(family, insured, payment_method="personal_account"):
    status, order = family.order(insured, payment_method=payment_method)
    assert status == 201, order
    return order


def test_cancel_before_benefits_start_refunds_that_policy_only(client, family):
    order = bought(family, ["self", "spouse"])
    mine, spouses = (p["policy_id"] for p in order["policies"])
    status, body = cancel(client, family.headers, spouses)
    assert status == 200, body
    assert body["status"] == "cancelled" and body["refund"] == {**body["refund"], "status": "refunded",
                                                                  "amount_fen": 10000, "method": "personal_account"}
    statement = family.balances()
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (40000, 100000)
    table = deps.table()
    assert table.get(keys.policy(mine))["status"] == "active"
    spouse_policy = table.get(keys.policy(spouses))
    assert spouse_policy["status"] == "cancelled"
    assert table.get(keys.cover_marker("lishui-2021", spouse_policy["insured_hash"])) is None  # may enrol again


def test_cancel_is_idempotent_and_refunds_once(client, family):
    order = bought(family, ["self"])
    policy_id = order["policies"][0]["policy_id"]
    first = cancel(client, family.headers, policy_id, key="cancel-key-0002")
    again = cancel(client, family.headers, policy_id, key="cancel-key-0002")
    assert first == again and first[0] == 200
    assert len(family.balances()["refunds"]) == 1
    status, body = cancel(client, family.headers, policy_id, key="cancel-key-0003")
    assert status == 409 and body["code"] == "POLICY_ALREADY_CANCELLED"


def test_cancel_after_benefits_started_is_422(client, clock, family):
    order = bought(family, ["self"])
    clock.set(datetime(2021, 1, 1, 0, 1, tzinfo=CHINA_TZ))
    status, body = cancel(client, family.headers, order["policies"][0]["policy_id"])
    assert status == 422 and body["code"] == "POLICY_ALREADY_STARTED"
    assert family.balances()["refunds"] == []


def test_a_stranger_cannot_cancel(client, family):
    order = bought(family, ["self"])
    status, body = cancel(client, login(client, "13900000021"), order["policies"][0]["policy_id"])
    assert status == 404
    assert deps.table().get(keys.policy(order["policies"][0]["policy_id"]))["status"] == "active"


def test_cancel_a_wechat_paid_policy_refunds_through_wechat(client, family):
    order = bought(family, ["self", "spouse"], payment_method="wechat_pay")
    client.http.post(f"/sandbox/wechat/pay/{order['order_id']}", headers={"Content-Type": "application/json"},
                      body=json.dumps({"result": "success"}))
    paid = json.loads(client.http.get(f"/v1/orders/{order['order_id']}", headers=family.headers).body)
    status, body = cancel(client, family.headers, paid["policies"][0]["policy_id"])
    assert status == 200 and body["refund"]["status"] == "refunded" and body["refund"]["method"] == "wechat_pay"
    assert deps.wechat_pay().simulator.refunded_fen(order["order_id"]) == 10000


def test_refund_that_times_out_stays_pending_until_reconciliation(client, family):
    from chalicelib.services.orders import reconcile

    order = bought(family, ["self"])
    deps.platform().fail_next("refund", "before")
    status, body = cancel(client, family.headers, order["policies"][0]["policy_id"])
    assert status == 200 and body["refund"]["status"] == "pending"
    assert family.balances()["account_current_fen"] == 40000
    assert reconcile(deps.order_ports(), deps.clock().now())["refunds_sent"] == 1
    assert family.balances()["account_current_fen"] == 50000
    _, replay = cancel(client, family.headers, order["policies"][0]["policy_id"])  # same key: now refunded
    assert replay["refund"]["status"] == "refunded"


def test_the_insured_who_did_not_pay_may_not_cancel_but_still_sees_the_policy(client, clock):
    """Cancelling is the policyholder's (投保人, the payer's) right (Insurance Law art. 15; issue 10 item 7)."""
    from tests.helpers import bind_identity

    clock.set(IN_WINDOW)
    payer = Family(client)
    payer.relative("spouse", "spouse")
    order = bought(payer, ["spouse"])
    policy_id = order["policies"][0]["policy_id"]
    spouse_headers = login(client, "13900000031")
    name = deps.platform().find_person(payer.ids["spouse"]).name
    bind_identity(client, spouse_headers, name, payer.ids["spouse"])
    status, body = cancel(client, spouse_headers, policy_id)
    assert status == 403 and body["code"] == "NOT_POLICYHOLDER"
    assert payer.balances()["account_prior_years_fen"] == 90000  # nothing refunded
    seen = client.http.get(f"/v1/policies/{policy_id}", headers=spouse_headers)
    assert seen.status_code == 200 and json.loads(seen.body)["status"] == "active"


def test_the_payer_cancels_a_policy_bought_for_a_relative(client, clock):
    clock.set(IN_WINDOW)
    payer = Family(client)
    payer.relative("spouse", "spouse")
    order = bought(payer, ["spouse"])
    status, body = cancel(client, payer.headers, order["policies"][0]["policy_id"])
    assert status == 200 and body["refund"]["status"] == "refunded"
    assert payer.balances()["account_prior_years_fen"] == 100000  # back to the payer's 历年结余
