"""A person is reserved before money moves (issue 9 item 5) and an unpaid WeChat order expires (item 6).

The reservation is the per-(plan, insured) cover marker in state `reserved`, written in the transaction that records
the order and its idempotency record; it becomes `issued` with the policy, and is deleted when the order ends any
other way. Services over the repositories' in-memory twins and the simulators; time is the sandbox clock."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib import deps
from chalicelib.api.auth import Principal
from chalicelib.domain.errors import Conflict, DomainError
from chalicelib.services import orders
from chalicelib.services.idempotency import body_hash
from tests.helpers import TwinFamily, current_twins
from tests.orders_support import IN_WINDOW


@pytest.fixture()
def clock(twins):
    return deps.clock()


@pytest.fixture()
def family(twins, clock):
    clock.set(IN_WINDOW)
    fam = TwinFamily(twins)
    fam.relative("spouse", "spouse")
    fam.relative("child", "child", basic_type="resident")
    return fam


def place(family: TwinFamily, insured: list[str], key: str | None = None, payment_method: str = "personal_account"):
    refs = [family.members.get(i, i) for i in insured]
    request = {"plan_id": "lishui-2021", "insured": refs, "payment_method": payment_method, "auto_renew": False}
    return orders.place_order(deps.order_ports(), Principal("member", family.account_id), "lishui-2021", refs,
                              payment_method, False, key or uuid.uuid4().hex, body_hash(request),
                              deps.clock().now())


def marker(family: TwinFamily, label: str) -> dict | None:
    return family.world.cover_item("lishui-2021", deps.cipher().lookup_hash(family.ids[label]))


def the_order(order_id: str) -> dict:
    return current_twins().order_item(order_id)


def test_the_reservation_is_written_before_the_deduction_and_becomes_the_cover(family, monkeypatch):
    seen = []
    real = deps.platform().deduct

    def deduct(*args, **kwargs):
        seen.append(marker(family, "self"))
        return real(*args, **kwargs)

    monkeypatch.setattr(deps.platform(), "deduct", deduct)
    status, view = place(family, ["self"])
    assert status == 201
    assert seen[0]["state"] == "reserved" and seen[0]["order_id"] == view["order_id"]
    issued = marker(family, "self")
    assert issued["state"] == "issued" and issued["policy_id"] == view["policies"][0]["policy_id"]


def test_concurrent_orders_with_different_keys_deduct_once(family):
    barrier = threading.Barrier(8)

    def attempt(_):
        barrier.wait()
        try:
            return place(family, ["self"])[0]
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sorted(outcomes, key=str).count(201) == 1
    assert set(outcomes) - {201} <= {"ORDER_IN_FLIGHT", "ALREADY_COVERED"}
    statement = family.balances()
    assert (len(statement["deductions"]), len(statement["refunds"])) == (1, 0)


def test_a_family_order_reserves_everyone_or_no_one(family):
    status, pending = place(family, ["spouse"], payment_method="wechat_pay")
    assert status == 201
    with pytest.raises(Conflict) as refused:
        place(family, ["self", "spouse", "child"])
    assert refused.value.code == "ORDER_IN_FLIGHT" and refused.value.details["insured"] == family.members["spouse"]
    assert refused.value.details["order_id"] == pending["order_id"]
    assert marker(family, "self") is None and marker(family, "child") is None  # nobody else was held
    assert family.balances()["deductions"] == []


def test_another_payers_order_in_flight_is_already_covered_for_me(family, twins):
    other = TwinFamily(twins, phone="13800000002", name="王建军")
    spouse_id = family.ids["spouse"]  # the same person, as a relative of another payer
    member = other.add_member(deps.platform().find_person(spouse_id).name, spouse_id, "spouse")
    assert place(family, ["spouse"], payment_method="wechat_pay")[0] == 201
    with pytest.raises(Conflict) as refused:
        orders.place_order(deps.order_ports(), Principal("member", other.account_id), "lishui-2021", [member],
                           "personal_account", False, "other-payer-1", "h", deps.clock().now())
    assert refused.value.code == "ALREADY_COVERED" and "order_id" not in refused.value.details  # not theirs to see
    assert other.balances()["deductions"] == []


def test_a_refused_deduction_frees_the_people(family, monkeypatch):
    from chalicelib.domain.platform import Balances

    monkeypatch.setattr(deps.platform(), "balances", lambda _id: Balances(current_fen=50000, prior_years_fen=100000))
    deps.platform().accounts[family.id_number]["prior_years"] = 5000
    with pytest.raises(DomainError):
        place(family, ["self", "spouse"])
    assert marker(family, "self") is None and marker(family, "spouse") is None
    monkeypatch.undo()
    assert place(family, ["self"])[0] == 201  # free to order again


def test_a_prepay_that_fails_frees_the_people_and_the_key(family):
    deps.wechat_pay().simulator.fail_next("prepay", "before")
    with pytest.raises(DomainError) as unavailable:
        place(family, ["self"], key="wechat-key-1", payment_method="wechat_pay")
    assert unavailable.value.code == "WECHAT_PAY_UNAVAILABLE"
    assert marker(family, "self") is None
    status, view = place(family, ["self"], key="wechat-key-1", payment_method="wechat_pay")  # the retry works
    assert status == 201 and view["status"] == "pending_payment"


def test_an_unpaid_wechat_order_expires_closes_and_frees_the_person(family, clock):
    status, view = place(family, ["self", "spouse"], payment_method="wechat_pay")
    assert status == 201 and view["expires_at"] == (IN_WINDOW + orders.WECHAT_PAY_WINDOW).isoformat()
    assert orders.reconcile(deps.order_ports(), deps.clock().now())["expired"] == 0  # not yet

    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW + timedelta(seconds=1))
    assert orders.reconcile(deps.order_ports(), deps.clock().now())["expired"] == 1

    order = the_order(view["order_id"])
    assert order["status"] == "expired" and order["failure"] == "ORDER_EXPIRED"
    assert "GSI3PK" not in order  # out of the work queue
    assert deps.wechat_pay().simulator.trades[view["order_id"]].closed  # closed at WeChat: it cannot be paid
    assert marker(family, "self") is None and marker(family, "spouse") is None
    assert orders.reconcile(deps.order_ports(), deps.clock().now())["expired"] == 0  # nothing left to do
    assert place(family, ["self"])[0] == 201


def test_an_order_wechat_cannot_close_stays_pending(family, clock):
    _, view = place(family, ["self"], payment_method="wechat_pay")
    deps.wechat_pay().simulator.fail_next("close", "before")
    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW + timedelta(minutes=1))
    counts = orders.reconcile(deps.order_ports(), deps.clock().now())
    assert (counts["expired"], counts["still_pending"]) == (0, 1)
    assert the_order(view["order_id"])["status"] == "pending_payment"
    assert marker(family, "self")["state"] == "reserved"


def test_a_payment_arriving_after_the_close_is_refunded_and_reported(family, clock, caplog):
    from chalicelib.api.orders import notify_response

    _, view = place(family, ["self"], payment_method="wechat_pay")
    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW + timedelta(minutes=1))
    orders.reconcile(deps.order_ports(), deps.clock().now())
    simulator = deps.wechat_pay().simulator
    trade = simulator.trades[view["order_id"]]
    trade.transaction_id = "42" + uuid.uuid4().hex[:26]  # the member's payment raced the close
    headers, body = simulator.notification(trade)

    answer = notify_response(headers, body, deps.clock().now())

    assert answer.status_code == 200
    order = the_order(view["order_id"])
    assert order["status"] == "refunded" and order["failure"] == "ORDER_EXPIRED"
    assert simulator.refunded_fen(view["order_id"]) == 10000
    assert marker(family, "self") is None  # no cover from money that came too late
    assert "wechat payment for a closed order refunded" in caplog.text
    again = notify_response(headers, body, deps.clock().now())  # WeChat notifies again: no second refund
    assert again.status_code == 200 and simulator.refunded_fen(view["order_id"]) == 10000


def test_a_closed_order_cannot_be_paid_in_the_sandbox(client, family, clock):
    import json

    _, view = place(family, ["self"], payment_method="wechat_pay")
    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW + timedelta(minutes=1))
    orders.reconcile(deps.order_ports(), deps.clock().now())
    resp = client.http.post(f"/sandbox/wechat/pay/{view['order_id']}", headers={"Content-Type": "application/json"},
                            body=json.dumps({"result": "success"}))
    assert resp.status_code == 409 and json.loads(resp.body)["code"] == "SANDBOX_WECHAT_TRADE_CLOSED"


def test_ordering_again_after_the_deadline_closes_the_unpaid_order_at_once(family, clock):
    """The member need not wait for the next reconciliation run once their pay sheet's deadline has passed."""
    _, stale = place(family, ["self"], payment_method="wechat_pay")
    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW + timedelta(seconds=1))

    status, view = place(family, ["self"])

    assert status == 201 and view["status"] == "paid"
    assert the_order(stale["order_id"])["status"] == "expired"
    assert deps.wechat_pay().simulator.trades[stale["order_id"]].closed
    assert marker(family, "self")["state"] == "issued"


def test_before_the_deadline_the_unpaid_order_still_holds_the_person(family, clock):
    _, pending = place(family, ["self"], payment_method="wechat_pay")
    clock.set(IN_WINDOW + orders.WECHAT_PAY_WINDOW - timedelta(seconds=1))
    with pytest.raises(Conflict) as refused:
        place(family, ["self"])
    assert refused.value.code == "ORDER_IN_FLIGHT" and refused.value.details["order_id"] == pending["order_id"]
    assert the_order(pending["order_id"])["status"] == "pending_payment"
