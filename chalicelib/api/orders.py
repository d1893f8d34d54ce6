"""POST /v1/orders, GET /v1/orders, GET /v1/orders/{order_id}, POST /v1/payments/wechat/notify.

Thin routes over the chalicelib/services/orders package (the payment sequence, its failure table: docs/payments.md)."""
from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import ConfigDict, Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.domain.plan import MAX_INSURED_PER_ORDER

bp = Blueprint(__name__)


class OrderIn(RequestModel):
    # Auto-renewal deducts from the personal account only (AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT): said in the schema.
    model_config = ConfigDict(json_schema_extra={"not": {
        "required": ["auto_renew", "payment_method"],
        "properties": {"auto_renew": {"const": True}, "payment_method": {"const": "wechat_pay"}}}})

    plan_id: str = Field(max_length=40)
    insured: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=MAX_INSURED_PER_ORDER, json_schema_extra={"uniqueItems": True},
        description='"self" for the caller, or family member ids')
    payment_method: Literal["wechat_pay", "personal_account"]
    auto_renew: bool = False


class OrderInsuredOut(ResponseModel):
    insured: str
    name: str
    benefit_start: date
    waiting_rule: str
    account_source: Literal["current", "prior_years"] | None = None


class OrderPolicyOut(ResponseModel):
    policy_id: str
    insured: str
    name: str
    benefit_start: date
    waiting_rule: str


class WeChatPayParams(ResponseModel):
    """What the mini-program passes to wx.requestPayment."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str
    signType: Literal["RSA"]
    paySign: str


class OrderFailure(ResponseModel):
    code: str
    message: str


class OrderOut(ResponseModel):
    order_id: str
    plan_id: str
    status: Literal["pending_payment", "settling", "paid", "failed", "expired", "refund_pending", "refunded",
                    "refund_failed"]
    payment_method: Literal["wechat_pay", "personal_account"]
    amount_fen: int
    premium_fen: int
    auto_renew: bool
    created_at: str
    paid_at: str | None = None
    expires_at: str | None = Field(default=None, description="an unpaid WeChat order is closed at this time")
    insured: list[OrderInsuredOut]
    policies: list[OrderPolicyOut]
    wechat_pay: WeChatPayParams | None = None
    failure: OrderFailure | None = None


@endpoint(bp, "/v1/orders", methods=("POST",), summary="投保下单(本人及家人,一单全成或全不成)", request=OrderIn,
          response=OrderOut, status=201, idempotent=True, tags=("orders",))
def place_order(ctx, body: OrderIn):
    from chalicelib import deps
    from chalicelib.services import orders
    from chalicelib.services.idempotency import body_hash

    status, view = orders.place_order(deps.order_ports(), ctx.principal, body.plan_id, body.insured, body.payment_method,
                                      body.auto_renew, ctx.idempotency_key, body_hash(body), deps.clock().now())
    return status, OrderOut.model_validate(view)


@endpoint(bp, "/v1/orders", summary="我的订单(我付款的)", response=list[OrderOut], tags=("orders",))
def list_orders(ctx):
    from chalicelib import deps
    from chalicelib.services import orders

    return [OrderOut.model_validate(v) for v in orders.list_orders(deps.order_ports(), ctx.principal)]


@endpoint(bp, "/v1/orders/{order_id}", summary="订单详情", response=OrderOut, tags=("orders",))
def get_order(ctx, order_id: str):
    from chalicelib import deps
    from chalicelib.services import orders

    return OrderOut.model_validate(orders.get_order(deps.order_ports(), ctx.principal, order_id))


class WeChatNotifyOut(ResponseModel):
    code: Literal["SUCCESS", "FAIL"]
    message: str | None = None


@endpoint(bp, "/v1/payments/wechat/notify", methods=("POST",), auth="wechat", response=WeChatNotifyOut,
          summary="微信支付结果通知(验签、5 分钟时效、解密、金额核对、去重)", tags=("payments",))
def wechat_notify(ctx):
    from chalicelib import deps

    return notify_response(ctx.headers, ctx.raw_body, deps.clock().now())


def notify_response(headers: dict[str, str], body: bytes, now):
    """The notify endpoint's answer (also what the sandbox's WeChat simulator reports back)."""
    from chalice import Response

    from chalicelib import deps
    from chalicelib.services.orders import receive_wechat_notification

    answer = receive_wechat_notification(deps.order_ports(), headers, body, now)
    return Response(body=json.dumps(answer.body(), ensure_ascii=False), status_code=answer.status,
                    headers={"Content-Type": "application/json; charset=utf-8"})
