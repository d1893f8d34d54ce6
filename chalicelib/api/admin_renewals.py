"""PUT /v1/admin/policies/{policy_id}/auto-renewal: staff record a member's stop of auto-renewal at a counter;
GET /v1/admin/renewal-runs: the run report
(DOMAIN §9.9, API.md v1.1)."""
from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Param, endpoint
from chalicelib.api.policies import RenewalOut
from chalicelib.api.schemas import RequestModel, ResponseModel

bp = Blueprint(__name__)


class CounterRenewalIn(RequestModel):
    enabled: bool = Field(json_schema_extra={"const": False},  # the service answers `true` with 422
                          description="false: the counter only stops auto-renewal (RENEWAL_CONSENT_BY_MEMBER)")
    channel: Literal["counter"]
    note: str | None = Field(default=None, max_length=200, description="what the member asked, in staff's words")


class CounterRenewalOut(ResponseModel):
    policy_id: str
    auto_renew: bool
    renewal: RenewalOut


@endpoint(bp, "/v1/admin/policies/{policy_id}/auto-renewal", methods=("PUT",), auth="staff",
          request=CounterRenewalIn, response=CounterRenewalOut, tags=("admin",),
          summary="经办:窗口为参保人关闭自动续保(记录经办人与说明)")
def stop_at_counter(ctx, body: CounterRenewalIn, policy_id: str):
    from chalicelib import deps, jobs
    from chalicelib.services import renewals

    return CounterRenewalOut.model_validate(renewals.stop_at_counter(
        jobs.renewal_ports(), ctx.principal, policy_id, body.enabled, body.note, deps.clock().now()))


class RenewalRunOut(ResponseModel):
    run_id: str
    job: Literal["renewal_notices", "renewal_deductions"]
    plan_id: str
    started_at: str
    finished_at: str | None
    status: str
    counts: dict[str, int] = Field(description="outcomes for this plan: noticed/skipped, or renewed/failed/skipped")
    failures: dict[str, int] = Field(description="failed renewals by reason (DOMAIN §9.8 codes)")
    skipped: dict[str, int] = Field(default_factory=dict,
                                    description="mandates the run switched off, by reason (PREMIUM_TAKEN_OVER: the "
                                                "premium was taken over by a subsidised list, DOMAIN §10.4)")


@endpoint(bp, "/v1/admin/renewal-runs", auth="staff", response=list[RenewalRunOut], tags=("admin",),
          summary="经办:自动续保运行报告(按结果与失败原因计数)",
          query={"plan_id": Param("the plan renewed into", {"type": "string", "minLength": 1}, required=True)})
def renewal_runs(ctx):
    from chalicelib import deps
    from chalicelib.domain.errors import BadRequest
    from chalicelib.services import renewals

    plan_id = ctx.query.get("plan_id")
    if not plan_id:
        raise BadRequest("BAD_QUERY_PARAMETER", field="plan_id")
    return [RenewalRunOut.model_validate(r) for r in renewals.renewal_runs(deps.job_runs(), ctx.principal, plan_id)]
