"""A payment channel that *refuses* a refund (WeChat NOT_ENOUGH, a platform refusal) must never crash a request or stop
the reconciliation queue: the item goes to `refund_failed` for an operator (alarmed), everything behind it settles."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

from chalicelib import deps
from chalicelib.adapters import keys
from tests.orders_support import IN_WINDOW, Family


def cancel(client, headers, policy_id):
    resp = client.http.post(f"/v1/policies/{policy_id}/cancel",
                            headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, body="")
    return resp.status_code, json.loads(resp.body)


def sandbox_pay(client, order_id):
    resp = client.http.post(f"/sandbox/wechat/pay/{order_id}", headers={"Content-Type": "application/json"},
                            body=json.dumps({"result": "success"}))
    return resp.status_code, json.loads(resp.body)


def pay_after_close(order_id: str) -> int:
    """The member's payment went through at WeChat just as the order was closed: its notification arrives late."""
    from chalicelib.api.orders import notify_response

    simulator = deps.wechat_pay().simulator
    trade = simulator.trades[order_id]
    trade.transaction_id = "42" + uuid.uuid4().hex[:26]
    headers, body = simulator.notification(trade)
    return notify_response(headers, body, deps.clock().now()).status_code


def refuse_refunds_of(order_id: str):
    from chalicelib.adapters.wechat_pay import WeChatPayRefused

    simulator = deps.wechat_pay().simulator
    real = simulator.refund

    def refund(**kw):
        if kw["out_trade_no"] == order_id:
            raise WeChatPayRefused("NOT_ENOUGH")  # merchant balance too low: an ordinary 4xx from WeChat
        return real(**kw)

    simulator.refund = refund


def test_refused_cancellation_refund_answers_and_waits_for_an_operator(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client)
    status, order = family.order(["self"], payment_method="wechat_pay")
    assert status == 201
    assert sandbox_pay(client, order["order_id"])[0] == 200
    paid = json.loads(client.http.get(f"/v1/orders/{order['order_id']}", headers=family.headers).body)
    policy_id = paid["policies"][0]["policy_id"]
    refuse_refunds_of(order["order_id"])

    status, body = cancel(client, family.headers, policy_id)

    assert status == 200, body
    assert body["refund"]["status"] == "pending"
    refund = deps.table().get(keys.refund(body["refund"]["refund_id"]))
    assert (refund["status"], refund["refund_failure"]) == ("refund_failed", "NOT_ENOUGH")
    assert refund["GSI3PK"] in keys.work_queue_partitions("REFUND", "refund_failed")


def test_one_refused_refund_does_not_stop_the_reconciliation_queue(client, clock):
    from chalicelib.services.orders import reconcile

    clock.set(IN_WINDOW)
    family = Family(client)
    family.relative("spouse", "spouse", basic_type="resident")
    # order A (WeChat) is left unpaid until it expires and is closed; its money, arriving after that, must be
    # refunded, and the refund is refused
    status, a = family.order(["spouse"], payment_method="wechat_pay")
    assert status == 201
    clock.set(IN_WINDOW + timedelta(minutes=31))
    assert reconcile(deps.order_ports(), deps.clock().now())["expired"] == 1
    # order C (personal account): its cancellation refund times out and waits for the reconciliation
    status, c = family.order(["self"])
    assert status == 201, c
    deps.platform().fail_next("refund", "before")
    status, body = cancel(client, family.headers, c["policies"][0]["policy_id"])
    assert (status, body["refund"]["status"]) == (200, "pending")
    current_before = family.balances()["account_current_fen"]
    refuse_refunds_of(a["order_id"])

    status = pay_after_close(a["order_id"])  # cover is impossible now; the refund is refused
    assert status < 500
    clock.set(IN_WINDOW + timedelta(minutes=45))
    counts = reconcile(deps.order_ports(), deps.clock().now())

    assert deps.table().get(keys.order(a["order_id"]))["status"] == "refund_failed"
    assert deps.table().get(keys.refund(body["refund"]["refund_id"]))["status"] == "refunded"
    assert family.balances()["account_current_fen"] == current_before + 10000
    assert counts["errors"] == 0


def test_reconciliation_survives_an_unexpected_error_in_one_item(client, clock, monkeypatch):
    from chalicelib.services import orders
    from chalicelib.services.orders import reconciliation

    clock.set(IN_WINDOW)
    family = Family(client)
    status, c = family.order(["self"])
    assert status == 201
    deps.platform().fail_next("refund", "before")
    status, body = cancel(client, family.headers, c["policies"][0]["policy_id"])
    assert status == 200

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(reconciliation, "execute_refund", broken)
    counts = orders.reconcile(deps.order_ports(), IN_WINDOW + timedelta(minutes=10))
    assert counts["errors"] == 1
