"""The simulated payout gateway in the local stage (the port: chalicelib/adapters/payout.py).

Two faces, both backed by the simulator `deps.payouts()` gives the app in the local stage:
- administration for people driving the sandbox: refuse an account, hold and complete transfers, inject faults;
- the gateway's own HTTP contract (docs/payouts.md) under `/sandbox/payouts/...`, HMAC-verified, so `HttpPayouts`
  can be pointed at it and the contract tests run the real client against the simulator over HTTP.
"""
from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import quote

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.adapters.payout import (
    FAULT_TIMINGS,
    OPERATIONS,
    PayoutRefused,
    PayoutUnavailable,
    SimulatedPayouts,
)
from chalicelib.adapters.payout_http import HEADERS as PAYOUT_HEADERS
from chalicelib.api.http import endpoint
from chalicelib.api.sandbox_contract import SimulatedPartner
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RuleViolation,
)
from chalicelib.domain.payout import FAILURE_CODES, Payee, Transfer

bp = Blueprint(__name__)

TAGS = ("sandbox",)
CONTRACT_TAGS = ("sandbox: payout gateway contract",)
CONTRACT_PREFIX = "/sandbox/payouts"


# ---- administration ---------------------------------------------------------------------------------------------
class RefusalIn(RequestModel):
    account_number: str = Field(pattern=r"^[0-9]{8,30}$")
    code: Literal[FAILURE_CODES] = "ACCOUNT_INVALID"  # type: ignore[valid-type]


class HoldIn(RequestModel):
    holding: bool


class PayoutFaultIn(RequestModel):
    operation: Literal[OPERATIONS]  # type: ignore[valid-type]
    when: Literal[FAULT_TIMINGS] = "after"  # type: ignore[valid-type]


class Done(ResponseModel):
    ok: bool = True
    completed: int | None = None


@endpoint(bp, CONTRACT_PREFIX + "/refusals", methods=("POST",), summary="模拟银行:到该账户的转账失败",
          auth="sandbox", request=RefusalIn, response=Done, tags=TAGS)
def refuse_account(ctx, body: RefusalIn):
    GATEWAY.simulator().refuse_account(body.account_number, body.code)
    return Done()


@endpoint(bp, CONTRACT_PREFIX + "/hold", methods=("PUT",), summary="模拟银行:新转账保持处理中,直至确认",
          auth="sandbox", request=HoldIn, response=Done, tags=TAGS)
def hold(ctx, body: HoldIn):
    GATEWAY.simulator().hold(body.holding)
    return Done()


@endpoint(bp, CONTRACT_PREFIX + "/complete", methods=("POST",), summary="模拟银行:确认所有处理中的转账",
          auth="sandbox", response=Done, tags=TAGS)
def complete(ctx):
    return Done(completed=GATEWAY.simulator().complete_pending())


@endpoint(bp, CONTRACT_PREFIX + "/faults", methods=("POST",), summary="模拟支付网关下一次调用超时",
          auth="sandbox", request=PayoutFaultIn, response=Done, status=201, tags=TAGS)
def fault(ctx, body: PayoutFaultIn):
    GATEWAY.simulator().fail_next(body.operation, body.when)
    return Done()


# ---- the gateway's HTTP contract (docs/payouts.md) -------------------------------------------------------------
class TransferIn(RequestModel):
    idempotency_key: str = Field(min_length=1, max_length=128)
    amount_fen: int
    reference: str = Field(default="", max_length=128)
    payee: Payee


class TransferList(BaseModel):
    transfers: list[Transfer]


@endpoint(bp, CONTRACT_PREFIX + "/transfers", methods=("POST",), summary="支付网关:向银行账户转账(幂等)",
          auth="sandbox", request=TransferIn, response=Transfer, status=201, tags=CONTRACT_TAGS)
def gateway_transfer(ctx, body: TransferIn):
    GATEWAY.verify_signature(ctx, "/transfers")
    return GATEWAY.call(lambda p: p.transfer(body.payee, body.amount_fen, body.idempotency_key, body.reference))


@endpoint(bp, CONTRACT_PREFIX + "/transfers/{idempotency_key}", summary="支付网关:按请求编号查询转账",
          auth="sandbox", response=Transfer, tags=CONTRACT_TAGS)
def gateway_find(ctx, idempotency_key: str):
    GATEWAY.verify_signature(ctx, f"/transfers/{quote(idempotency_key, safe='')}")
    transfer = GATEWAY.call(lambda p: p.find(idempotency_key))
    if transfer is None:
        raise GATEWAY.http_error("TRANSFER_NOT_FOUND")
    return transfer


@endpoint(bp, CONTRACT_PREFIX + "/statement", summary="支付网关:某日的转账对账单", auth="sandbox",
          response=TransferList, query={"date": "YYYY-MM-DD"}, tags=CONTRACT_TAGS)
def gateway_statement(ctx):
    GATEWAY.verify_signature(ctx, "/statement")
    try:
        day = date.fromisoformat(ctx.query.get("date") or "")
    except ValueError:
        raise BadRequest("BAD_QUERY_PARAMETER", field="date") from None
    return TransferList(transfers=GATEWAY.call(lambda p: p.statement(day)))


# ---- helpers ----------------------------------------------------------------------------------------------------
def _port():
    from chalicelib import deps

    return deps.payouts()


def _secret() -> bytes:
    from chalicelib import deps

    return deps.payout_secret()


GATEWAY = SimulatedPartner(
    port=_port, simulator_type=SimulatedPayouts, not_simulated="PAYOUT_NOT_SIMULATED", headers=PAYOUT_HEADERS,
    secret=_secret, signature_invalid="PAYOUT_SIGNATURE_INVALID", refused=PayoutRefused,
    unavailable=PayoutUnavailable, timeout="PAYOUT_TIMEOUT", message_prefix="PAYOUT",
    statuses={"TRANSFER_NOT_FOUND": NotFound, "IDEMPOTENCY_KEY_REUSED": Conflict, "INVALID_AMOUNT": RuleViolation})
