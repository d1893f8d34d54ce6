"""Reading orders: the payer's view of an order (WeChat parameters signed only for one order, never for a list)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import (
    NotFound,
)
from chalicelib.domain.messages import message_for
from chalicelib.domain.order import Order
from chalicelib.domain.order_lifecycle import (
    EXPIRED,
    PAID,
    PENDING_PAYMENT,
)
from chalicelib.services.orders.ports import OrderPorts

ORDER_FAILURE_MESSAGES = {"ALREADY_COVERED": "ORDER_FAILED_ALREADY_COVERED",
                          "ORDER_FAILED_ALREADY_COVERED": "ORDER_FAILED_ALREADY_COVERED",
                          "ORDER_FAILED_CANNOT_START": "ORDER_FAILED_CANNOT_START",
                          "ORDER_EXPIRED": "ORDER_EXPIRED"}


def order_view(order: Order, wechat=None, *, sign: bool = False) -> dict[str, Any]:
    """The order as the payer sees it (API.md). With `sign` (one order asked for, or just placed), the WeChat
    payment parameters of an unpaid order are signed afresh so the member can pay or resume; lists never sign."""
    starts = order.policy_starts or [{"benefit_start": p.benefit_start, "waiting_rule": p.waiting_rule}
                                     for p in order.insured]
    view: dict[str, Any] = {
        "order_id": order.order_id, "plan_id": order.plan_id, "status": order.status,
        "payment_method": order.payment_method, "amount_fen": order.amount_fen, "premium_fen": order.premium_fen,
        "auto_renew": order.auto_renew, "created_at": order.created_at, "paid_at": order.paid_at,
        "insured": [{"insured": p.ref, "name": p.name, "benefit_start": p.benefit_start,
                     "waiting_rule": p.waiting_rule, "account_source": p.account_source} for p in order.insured],
        "expires_at": order.pay_before if order.status == PENDING_PAYMENT else None,
        "policies": [{"policy_id": policy_id, "insured": p.ref, "name": p.name, **start}
                     for p, policy_id, start in zip(order.insured, order.policy_ids, starts, strict=True)]
        if order.status == PAID else [],
    }
    if order.failure:
        message_code = ORDER_FAILURE_MESSAGES.get(order.failure, "PAYMENT_REFUSED")
        if order.failure == "ORDER_EXPIRED" and order.status != EXPIRED:  # paid after it was closed
            message_code = "ORDER_PAID_AFTER_CLOSE"
        view["failure"] = {"code": order.failure, "message": message_for(message_code)}
    if sign and order.status == PENDING_PAYMENT and order.prepay_id:
        view["wechat_pay"] = wechat.jsapi_parameters(order.prepay_id)
    return view


def get_order(ports: OrderPorts, principal, order_id: str) -> dict[str, Any]:
    """GET /v1/orders/{id}: the payer's own orders only (404 for anyone else, so ids cannot be probed). An unpaid
    WeChat order comes with freshly signed payment parameters: this is how a member resumes it."""
    order = ports.orders.get(order_id)
    if order is None or order.payer_account_id != principal.account_id:
        raise NotFound("ORDER_NOT_FOUND", order_id=order_id)
    return order_view(order, ports.wechat, sign=True)


def list_orders(ports: OrderPorts, principal, limit: int = 50) -> list[dict[str, Any]]:
    """GET /v1/orders: the caller's orders, newest first. No signing here: a list read costs no RSA signature."""
    return [order_view(order) for order in ports.orders.for_payer(principal.account_id, limit)]
