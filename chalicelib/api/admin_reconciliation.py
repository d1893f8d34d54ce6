"""GET /v1/admin/reconciliation-differences?day=: the staff tasks the daily platform reconciliation (对账) found —
each difference between what we asked the 医保 platform for and its statement (DOMAIN §9.10)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Param, endpoint
from chalicelib.api.schemas import ResponseModel

bp = Blueprint(__name__)


class ReconciliationDifferenceOut(ResponseModel):
    day: str
    kind: Literal["amount_differs", "not_ours", "deduction_missing", "refund_missing"]
    entry_kind: Literal["deduction", "refund"]
    idempotency_key: str = Field(description="the platform request's key (ours, or the platform's line)")
    ours_fen: int | None = Field(description="what our records say, in fen; null when the line is not ours")
    platform_fen: int | None = Field(description="what the platform's statement says; null when it has no line")
    order_id: str | None
    refund_id: str | None
    plan_id: str | None
    city: str | None = Field(description="the plan's 统筹区; null for a line that is not ours")
    found_at: str
    status: Literal["open", "resolved"]


@endpoint(bp, "/v1/admin/reconciliation-differences", auth="staff", response=list[ReconciliationDifferenceOut],
          tags=("admin",), summary="经办:医保平台对账差异(某日),每条差异一项待办",
          query={"day": Param("YYYY-MM-DD(北京时间),对账的日期", {"type": "string", "format": "date"}, required=True)})
def reconciliation_differences(ctx):
    from chalicelib import jobs
    from chalicelib.domain.errors import BadRequest
    from chalicelib.services.platform_reconciliation import differences_for

    try:
        day = date.fromisoformat(ctx.query.get("day") or "")
    except ValueError:
        raise BadRequest("BAD_QUERY_PARAMETER", field="day") from None
    return [ReconciliationDifferenceOut.model_validate(d)
            for d in differences_for(jobs.reconciliation_ports(), ctx.principal, day)]
