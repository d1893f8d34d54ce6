"""The WeChat Pay simulator and the reconciliation job, driven by hand in the local stage.

`POST /sandbox/wechat/pay/{order_id}` plays the member paying: the simulator builds the notification WeChat would
send — RSA-SHA256 signed, AEAD_AES_256_GCM encrypted — and hands it to the notify endpoint's own code, returning
what that answered. `POST /sandbox/jobs/reconcile` runs the scheduled reconciliation now.
"""
from __future__ import annotations

import json
from typing import Any, Literal

from chalice import Blueprint, Response

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel

bp = Blueprint(__name__)


class SandboxPayIn(RequestModel):
    result: Literal["success", "fail"] = "success"


class SandboxPayOut(ResponseModel):
    notify_status: int
    notify_response: dict[str, Any]
    order_id: str


class ReconcileOut(ResponseModel):
    issued: int
    failed: int
    refunded: int
    refunds_sent: int
    still_pending: int
    expired: int = 0


@endpoint(bp, "/sandbox/wechat/pay/{order_id}", methods=("POST",), summary="沙箱:模拟微信支付并发送支付结果通知",
          auth="sandbox", request=SandboxPayIn, response=SandboxPayOut, tags=("sandbox",))
def pay(ctx, body: SandboxPayIn, order_id: str):
    from chalicelib import deps
    from chalicelib.adapters.wechat_pay import WeChatPayRefused
    from chalicelib.api.orders import notify_response
    from chalicelib.domain.errors import Conflict, NotFound

    simulator = getattr(deps.wechat_pay(), "simulator", None)
    if simulator is None:
        raise Conflict("SANDBOX_WECHAT_NOT_SIMULATED")
    try:
        headers, raw = simulator.pay(order_id, success=body.result == "success")
    except KeyError:
        raise NotFound("SANDBOX_WECHAT_TRADE_NOT_FOUND", order_id=order_id) from None
    except WeChatPayRefused as exc:  # closed or past its time_expire: WeChat takes no money for it
        raise Conflict("SANDBOX_WECHAT_TRADE_CLOSED", order_id=order_id, wechat_code=exc.code) from None
    answer: Response = notify_response(headers, raw, deps.clock().now())
    return SandboxPayOut(notify_status=answer.status_code, notify_response=json.loads(answer.body),
                         order_id=order_id)


@endpoint(bp, "/sandbox/jobs/reconcile", methods=("POST",), summary="沙箱:立即运行订单对账", auth="sandbox",
          response=ReconcileOut, tags=("sandbox",))
def reconcile(ctx):
    from chalicelib import jobs

    counts = jobs.run_now("reconcile_orders").counts  # through the job queue, as /sandbox/jobs/{job} runs it
    return ReconcileOut(**{name: counts.get(name, 0) for name in ReconcileOut.model_fields})
