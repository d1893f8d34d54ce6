"""WeChat Pay: order → prepay → the simulator's signed, encrypted notification → the real verification path.

Duplicates, replays, forgeries, stale timestamps and amount mismatches are refused or ignored: nothing is issued
twice, nothing without the exact payment, never money without cover."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.orders_support import IN_WINDOW, Family


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    fam = Family(client)
    fam.relative("spouse", "spouse", basic_type="resident")
    return fam


def simulator():
    from chalicelib import deps

    return deps.wechat_pay().simulator


def notify(client, headers, body):
    resp = client.http.post("/v1/payments/wechat/notify", headers=headers, body=body)
    return resp.status_code, json.loads(resp.body)


def sandbox_pay(client, order_id, result="success"):
    resp = client.http.post(f"/sandbox/wechat/pay/{order_id}", headers={"Content-Type": "application/json"},
                            body=json.dumps({"result": result}))
    assert resp.status_code == 200, resp.body
    return json.loads(resp.body)


def order_of(client, family, order_id):
    return json.loads(client.http.get(f"/v1/orders/{order_id}", headers=family.headers).body)


def policies_of(order_id):
    from chalicelib import deps

    return [i for i in deps.table().client.scan(TableName=deps.table().name)["Items"]
            if i["PK"]["S"].startswith("POLICY#") and i["order_id"]["S"] == order_id]


def test_order_waits_for_payment_with_signed_jsapi_parameters(client, family):
    status, order = family.order(["self", "spouse"], payment_method="wechat_pay")
    assert status == 201 and order["status"] == "pending_payment" and order["amount_fen"] == 20000
    params = order["wechat_pay"]
    assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA" and params["paySign"]
    assert order["policies"] == [] and policies_of(order["order_id"]) == []


def test_verified_notification_issues_the_policies(client, family):
    _, order = family.order(["self", "spouse"], payment_method="wechat_pay")
    answer = sandbox_pay(client, order["order_id"])
    assert (answer["notify_status"], answer["notify_response"]) == (200, {"code": "SUCCESS"})
    paid = order_of(client, family, order["order_id"])
    assert paid["status"] == "paid" and len(paid["policies"]) == 2
    assert "wechat_pay" not in paid or paid["wechat_pay"] is None


def test_benefit_start_is_computed_from_the_payment_time(client, clock, family, monkeypatch):
    from chalicelib.services.orders import placing

    monkeypatch.setattr(placing, "WECHAT_PAY_WINDOW", timedelta(days=365))  # a pay sheet left open that long
    _, order = family.order(["self"], payment_method="wechat_pay")  # ordered in the window …
    clock.set(datetime(2021, 4, 2, 9, tzinfo=CHINA_TZ))  # … paid late: six months' wait
    sandbox_pay(client, order["order_id"])
    from chalicelib import deps
    from chalicelib.adapters import keys

    policy = deps.table().get(keys.policy(order_of(client, family, order["order_id"])["policies"][0]["policy_id"]))
    assert (policy["benefit_start"], policy["waiting_rule"]) == ("2021-10-02", "late_six_months")


def test_duplicate_notification_is_acknowledged_without_effect(client, family):
    _, order = family.order(["self"], payment_method="wechat_pay")
    headers, body = simulator().pay(order["order_id"])
    assert notify(client, headers, body) == (200, {"code": "SUCCESS"})
    assert notify(client, headers, body) == (200, {"code": "SUCCESS"})  # WeChat retries the same notification
    assert len(policies_of(order["order_id"])) == 1


def test_forged_signature_is_refused(client, family):
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, order = family.order(["self"], payment_method="wechat_pay")
    sim = simulator()
    _, body = sim.pay(order["order_id"])
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    status, answer = notify(client, sim.sign(body.decode(), key=forger), body)
    assert status == 401 and answer["code"] == "FAIL"
    assert order_of(client, family, order["order_id"])["status"] == "pending_payment"


def test_tampered_body_is_refused(client, family):
    _, order = family.order(["self"], payment_method="wechat_pay")
    headers, body = simulator().pay(order["order_id"])
    tampered = body.replace(b'"summary":"', b'"summary":"X')
    assert notify(client, headers, tampered)[0] == 401
    assert policies_of(order["order_id"]) == []


def test_stale_notification_is_refused(client, clock, family):
    _, order = family.order(["self"], payment_method="wechat_pay")
    headers, body = simulator().pay(order["order_id"])
    clock.set(IN_WINDOW + timedelta(minutes=5, seconds=1))
    status, _ = notify(client, headers, body)
    assert status == 401
    assert policies_of(order["order_id"]) == []


def test_replayed_notification_after_five_minutes_is_refused(client, clock, family):
    _, order = family.order(["self"], payment_method="wechat_pay")
    headers, body = simulator().pay(order["order_id"])
    assert notify(client, headers, body)[0] == 200
    clock.set(IN_WINDOW + timedelta(minutes=30))
    assert notify(client, headers, body)[0] == 401
    assert len(policies_of(order["order_id"])) == 1


@pytest.mark.parametrize("override", [{"total_fen": 1}, {"appid": "wx-someone-else"}, {"mchid": "1900000999"}])
def test_notification_that_does_not_match_the_order_is_refused(client, family, override):
    _, order = family.order(["self"], payment_method="wechat_pay")
    sim = simulator()
    sim.pay(order["order_id"])
    headers, body = sim.notification(sim.trades[order["order_id"]], **override)
    status, answer = notify(client, headers, body)
    assert status == 400 and answer["code"] == "FAIL"
    assert order_of(client, family, order["order_id"])["status"] == "pending_payment"


def test_failed_payment_leaves_the_order_waiting(client, family):
    _, order = family.order(["self"], payment_method="wechat_pay")
    answer = sandbox_pay(client, order["order_id"], result="fail")
    assert answer["notify_status"] == 200
    assert order_of(client, family, order["order_id"])["status"] == "pending_payment"
    assert policies_of(order["order_id"]) == []


def covered_elsewhere(family, label):
    """Someone is covered by a policy that never went through a reservation (an order placed before reservations
    existed): the only way, now, for cover to appear under a pending order's feet."""
    from chalicelib import deps
    from chalicelib.adapters import keys

    id_hash = deps.cipher().lookup_hash(family.ids[label])
    deps.table().put({**keys.cover_marker("lishui-2021", id_hash), "policy_id": "POL-ELSEWHERE",
                      "order_id": "ORD-ELSEWHERE", "plan_id": "lishui-2021"})


def test_a_second_order_while_one_is_unpaid_is_refused_before_any_prepay(client, family):
    _, first = family.order(["self", "spouse"], payment_method="wechat_pay", key="first-order-01")
    status, second = family.order(["spouse"], payment_method="wechat_pay", key="second-order-01")
    assert status == 409 and second["code"] == "ORDER_IN_FLIGHT"
    assert second["details"]["order_id"] == first["order_id"]
    assert second["details"]["expires_at"] == first["expires_at"]
    assert len(simulator().trades) == 1  # WeChat was never asked for the second


def test_person_covered_by_someone_else_before_payment_is_refunded_in_full(client, family):
    _, slow = family.order(["self", "spouse"], payment_method="wechat_pay", key="slow-order-01")
    covered_elsewhere(family, "spouse")
    answer = sandbox_pay(client, slow["order_id"])
    assert answer["notify_status"] == 200  # accepted: the money is ours to return, not WeChat's to resend
    settled = order_of(client, family, slow["order_id"])
    assert settled["status"] == "refunded" and settled["policies"] == []
    assert settled["failure"]["code"] == "ORDER_FAILED_ALREADY_COVERED"
    assert simulator().refunded_fen(slow["order_id"]) == 20000
    assert policies_of(slow["order_id"]) == []  # all or nothing: self was not covered either


def test_payment_too_late_to_start_is_refunded(client, clock):
    from tests.helpers import bind_identity, login, new_id, register_person
    from tests.orders_support import post_order

    clock.set(datetime(2018, 11, 30, 23, 50, tzinfo=CHINA_TZ))
    person_id = new_id("410185", date(1970, 1, 1))
    register_person("赵登封", person_id, city="410185", basic_type="resident")
    headers = login(client, "13800000071")
    bind_identity(client, headers, "赵登封", person_id)
    _, order = post_order(client, headers, {"plan_id": "dengfeng-2018", "insured": ["self"],
                                            "payment_method": "wechat_pay"})
    clock.set(datetime(2018, 12, 1, 0, 5, tzinfo=CHINA_TZ))  # paid after the collection period closed
    sandbox_pay(client, order["order_id"])
    settled = json.loads(client.http.get(f"/v1/orders/{order['order_id']}", headers=headers).body)
    assert settled["status"] == "refunded" and settled["failure"]["code"] == "ORDER_FAILED_CANNOT_START"
    assert simulator().refunded_fen(order["order_id"]) == 10000


def test_refund_that_times_out_is_finished_by_reconciliation(client, family):
    _, slow = family.order(["spouse"], payment_method="wechat_pay", key="slow-order-02")
    covered_elsewhere(family, "spouse")
    simulator().fail_next("refund", "before")
    sandbox_pay(client, slow["order_id"])
    assert order_of(client, family, slow["order_id"])["status"] == "refund_pending"
    resp = client.http.post("/sandbox/jobs/reconcile", headers={"Content-Type": "application/json"}, body="")
    assert resp.status_code == 200 and json.loads(resp.body)["refunded"] == 1
    assert order_of(client, family, slow["order_id"])["status"] == "refunded"
    assert simulator().refunded_fen(slow["order_id"]) == 10000


def test_a_body_that_is_not_utf8_is_rejected_not_a_server_error(client, clock):
    from chalicelib import deps

    clock.set(IN_WINDOW)
    headers = {"Wechatpay-Serial": deps.wechat_pay()._public_key_id,
               "Wechatpay-Timestamp": str(int(IN_WINDOW.timestamp())), "Wechatpay-Nonce": "n",
               "Wechatpay-Signature": "AAAA", "Content-Type": "application/json"}
    resp = client.http.post("/v1/payments/wechat/notify", headers=headers, body=b"\xff\xfe{}")
    assert 400 <= resp.status_code < 500
