"""GET /v1/policies, GET /v1/policies/{policy_id}, PUT /v1/policies/{policy_id}/auto-renewal,
POST /v1/policies/{policy_id}/cancel (the cancellation itself is the orders service's)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel

bp = Blueprint(__name__)


class InsuredOut(ResponseModel):
    name: str
    id_number_masked: str


class PayerOut(ResponseModel):
    relationship: str | None  # self | spouse | child | … ; None when the payer's member record is gone
    is_me: bool
    name_masked: str | None = None


class ConsentOut(ResponseModel):
    at: str
    channel: Literal["wechat", "app"]
    payment_method: str
    payer_is_me: bool


class YearToDateOut(ResponseModel):
    deductible_used_fen: int
    eligible_fen: int
    paid_fen: int


class RenewalFailureOut(ResponseModel):
    code: str
    message: str


class RenewalHistoryOut(ResponseModel):
    at: str
    event: Literal["consent", "notice", "stop", "renew", "fail"]
    channel: str
    by: Literal["me", "member", "staff", "system"]


class RenewalOut(ResponseModel):
    status: Literal["off", "consented", "noticed", "stopped", "renewed", "failed"]
    next_plan_id: str | None = Field(description="the plan this policy renews into; null when none is published")
    notice_sent_at: str | None
    deduction_on: date | None
    amount_fen: int | None
    account_source: Literal["current", "prior_years"] | None
    renewed_policy_id: str | None
    failure: RenewalFailureOut | None
    history: list[RenewalHistoryOut]


class PolicyOut(ResponseModel):
    policy_id: str
    plan_id: str
    plan_name: str
    order_id: str
    insured: InsuredOut
    payer: PayerOut
    status: str
    paid_at: str | None
    benefit_start: date
    coverage_end: date
    waiting_rule: str
    auto_renew: bool
    auto_renew_consent: ConsentOut | None
    year_to_date: YearToDateOut | None = Field(
        description="null for a payer without the insured's authorisation (claim figures are the insured's)")
    premium_fen: int
    payment_method: str
    roles: list[Literal["insured", "payer", "view", "claims"]]
    renewal: RenewalOut | None = None


class AutoRenewal(RequestModel):
    enabled: bool


def _out(view) -> PolicyOut:
    from dataclasses import asdict

    return PolicyOut.model_validate(asdict(view))


@endpoint(bp, "/v1/policies", summary="我的保单:本人参保、我付费的、以及获授权查看的", response=list[PolicyOut],
          tags=("policies",))
def list_policies(ctx):
    from chalicelib import deps
    from chalicelib.services import policies

    return [_out(v) for v in policies.list_policies(deps.policy_ports(), ctx.principal)]


@endpoint(bp, "/v1/policies/{policy_id}", summary="保单详情:待遇开始、等待期规则、年度累计", response=PolicyOut,
          tags=("policies",))
def get_policy(ctx, policy_id: str):
    from chalicelib import deps
    from chalicelib.services import policies

    return _out(policies.policy_detail(deps.policy_ports(), ctx.principal, policy_id))


@endpoint(bp, "/v1/policies/{policy_id}/auto-renewal", methods=("PUT",), summary="开启或关闭自动续保(医保个人账户)",
          request=AutoRenewal, response=PolicyOut, tags=("policies",))
def set_auto_renewal(ctx, body: AutoRenewal, policy_id: str):
    from chalicelib import deps
    from chalicelib.services import policies

    return _out(policies.set_auto_renewal(deps.policy_ports(), ctx.principal, policy_id, body.enabled,
                                          deps.clock().now()))


@endpoint(bp, "/v1/policies/{policy_id}/cancel", methods=("POST",), summary="退保:保障开始前全额退回原支付渠道",
          idempotent=True, tags=("policies",))
def cancel_policy(ctx, policy_id: str):
    from chalicelib import deps
    from chalicelib.services.idempotency import body_hash
    from chalicelib.services.orders import cancel_policy as cancel

    return cancel(deps.order_ports(), ctx.principal, policy_id, ctx.idempotency_key,
                  body_hash({"policy_id": policy_id}), deps.clock().now())
