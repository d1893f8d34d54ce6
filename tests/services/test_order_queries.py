"""Reading orders, on the repositories' in-memory twins (no moto): the payer's view, resuming an unpaid WeChat
order, and a list read that signs nothing."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.orders import InMemoryOrderRepository
from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository
from chalicelib.api.auth import Principal
from chalicelib.domain.errors import NotFound
from chalicelib.services import orders
from tests.contract.test_repositories import an_order


class CountingWeChat:
    """Signs like the real adapter's shape, and counts every signature (an RSA operation each)."""

    def __init__(self) -> None:
        self.signed = 0

    def jsapi_parameters(self, prepay_id: str) -> dict[str, str]:
        self.signed += 1
        return {"appId": "wx", "timeStamp": "1", "nonceStr": "n", "package": f"prepay_id={prepay_id}",
                "signType": "RSA", "paySign": "sig"}


@pytest.fixture()
def ports():
    return orders.OrderPorts(table=None, platform=None, wechat=CountingWeChat(), cipher=None,
                             orders=InMemoryOrderRepository(), policies=InMemoryPolicyRepository())


def unpaid(order_id: str, created_at: str = "2020-12-15T10:00:00+08:00"):
    return an_order(order_id, status="pending_payment", created_at=created_at).model_copy(update={
        "payment_method": "wechat_pay", "deductions": [], "wechat": {"prepay_id": f"wx{order_id}"},
        "pay_before": "2020-12-15T10:30:00+08:00"})


PAYER = Principal("member", "acct-1")


def test_a_list_of_unpaid_orders_signs_nothing(ports):
    for n in range(5):
        ports.orders.save(unpaid(f"ORD{n}", created_at=f"2020-12-15T10:0{n}:00+08:00"))
    listed = orders.list_orders(ports, PAYER)
    assert [o["order_id"] for o in listed] == ["ORD4", "ORD3", "ORD2", "ORD1", "ORD0"]
    assert all("wechat_pay" not in o for o in listed) and ports.wechat.signed == 0
    assert {o["expires_at"] for o in listed} == {"2020-12-15T10:30:00+08:00"}


def test_one_unpaid_order_comes_with_fresh_payment_parameters_to_resume(ports):
    ports.orders.save(unpaid("ORD1"))
    view = orders.get_order(ports, PAYER, "ORD1")
    assert view["wechat_pay"]["package"] == "prepay_id=wxORD1" and ports.wechat.signed == 1


def test_another_payers_order_is_not_found(ports):
    ports.orders.save(unpaid("ORD1"))
    with pytest.raises(NotFound):
        orders.get_order(ports, Principal("member", "acct-2"), "ORD1")
    assert ports.wechat.signed == 0


def test_a_paid_order_lists_its_policies_with_benefit_start_and_waiting_rule(ports):
    paid = an_order("ORD1", status="paid").model_copy(update={
        "paid_at": "2021-04-02T09:00:00+08:00",
        "policy_starts": [{"benefit_start": "2021-10-02", "waiting_rule": "late_six_months"},
                          {"benefit_start": "2021-10-02", "waiting_rule": "late_six_months"}]})
    ports.orders.save(paid)
    view = orders.get_order(ports, PAYER, "ORD1")
    assert [(p["policy_id"], p["benefit_start"], p["waiting_rule"]) for p in view["policies"]] == [
        (policy_id, "2021-10-02", "late_six_months") for policy_id in paid.policy_ids]
    assert view["expires_at"] is None and "wechat_pay" not in view


def test_an_expired_order_says_why_in_chinese(ports):
    ports.orders.save(unpaid("ORD1").model_copy(update={"status": "expired", "failure": "ORDER_EXPIRED"}))
    view = orders.get_order(ports, PAYER, "ORD1")
    assert view["failure"]["code"] == "ORDER_EXPIRED" and "未扣费" in view["failure"]["message"]
    assert "wechat_pay" not in view and ports.wechat.signed == 0
