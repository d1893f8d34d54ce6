"""Staff claim routes (经办): the review queue, a claim's file, review decisions and payment.

Roles (staff tokens; `auth="staff"` refuses member tokens with 403 STAFF_ONLY):
- `claims_reviewer` — reviews (approve with reviewed bill amounts, reject, ask for more information);
- `insurer_admin`   — reviews and pays (payment is kept away from reviewers: who approves does not pay);
- `bureau`          — the 医保局's supervision: reads the queue and claims, changes nothing.
Every staff change is written with an audit entry in the same transaction.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.claims import ClaimBill, ClaimOut, ClaimSummaryOut, ports
from chalicelib.api.http import Param, endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.domain.claims import STATUSES, Decision
from chalicelib.domain.errors import BadRequest

bp = Blueprint(__name__)

DEFAULT_PAGE = 20
MAX_PAGE = 100
PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}  # as _page_size enforces


class ReviewIn(RequestModel):
    decision: Decision
    bills: list[ClaimBill] | None = Field(default=None, min_length=1, max_length=50,
                                             description="reviewed amounts (approve); default: the submitted bills")
    reason: str | None = Field(default=None, max_length=500,
                               description="shown to the member; required to reject or ask for more")


class QueueOut(ResponseModel):
    items: list[ClaimSummaryOut]
    next: str | None = Field(description="opaque cursor of the next page; null on the last page")


class PaidOut(ClaimSummaryOut):
    ytd_before_payment: dict[str, int]
    ytd_after_payment: dict[str, int]


def _now():
    from chalicelib import deps

    return deps.clock().now()


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest("BAD_QUERY_PARAMETER", field="limit")
    return int(raw)


@endpoint(bp, "/v1/admin/claims", auth="staff", response=QueueOut, tags=("admin",),
          summary="经办:理赔待办(按决定期限从早到晚,逾期在前)",
          query={"status": Param("one state; default every open one (submitted, under_review, need_more_info, "
                                 "approved, payout_failed)", {"type": "string", "enum": list(STATUSES)}),
                 "limit": Param(f"page size 1–{MAX_PAGE} (default {DEFAULT_PAGE})", PAGE_SIZE),
                 "cursor": Param("the previous page's next (opaque)",
                                 {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$"})})
def claim_queue(ctx):
    from chalicelib.services import claims

    status = ctx.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest("BAD_QUERY_PARAMETER", field="status")
    return QueueOut.model_validate(claims.staff_queue(ports(), ctx.principal, status,
                                                      _page_size(ctx.query.get("limit")), ctx.query.get("cursor"),
                                                      _now().date()))


@endpoint(bp, "/v1/admin/claims/{claim_id}", auth="staff", response=ClaimOut, tags=("admin",),
          summary="经办:理赔详情、材料与进度")
def staff_claim(ctx, claim_id: str):
    from chalicelib.services import claims

    return ClaimOut.model_validate(claims.get_for_staff(ports(), ctx.principal, claim_id, _now().date()))


@endpoint(bp, "/v1/admin/claims/{claim_id}/review", methods=("POST",), auth="staff", request=ReviewIn,
          response=ClaimOut, tags=("admin",), summary="经办:审核(通过并核定金额 / 拒绝 / 要求补充材料)")
def review_claim(ctx, body: ReviewIn, claim_id: str):
    from chalicelib.services import claims

    bills = [b.model_dump(mode="json", exclude_none=True) for b in body.bills] if body.bills is not None else None
    return ClaimOut.model_validate(claims.review(ports(), ctx.principal, claim_id, body.decision, bills,
                                                 body.reason, _now()))


@endpoint(bp, "/v1/admin/claims/{claim_id}/pay", methods=("POST",), auth="staff", response=PaidOut,
          idempotent=True, tags=("admin",), summary="经办:赔付到账,同时累计保单年度已赔付")
def pay_claim(ctx, claim_id: str):
    from chalicelib.services import claims

    status, view = claims.pay(ports(), ctx.principal, claim_id, ctx.idempotency_key, _now())
    return status, PaidOut.model_validate(view)


# ---- the official calendar (国务院办公厅节假日安排) -----------------------------------------------------------------
class CalendarYearIn(RequestModel):
    holidays: list[date] = Field(max_length=60, description="days off that would otherwise be working days "
                                                          "(and the holidays falling on weekends)")
    workdays: list[date] = Field(default_factory=list, max_length=20,
                                 description="make-up working days (调休上班), weekend days only")


class CalendarYearOut(ResponseModel):
    year: int
    holidays: list[str]
    workdays: list[str]
    loaded_by: str
    loaded_at: str
    claims_rescheduled: int = Field(description="open claims whose decision deadline changed")


@endpoint(bp, "/v1/admin/calendar/{year}", methods=("PUT",), auth="staff", request=CalendarYearIn,
          response=CalendarYearOut, tags=("admin",), path_schemas={"year": {"type": "string",
                                                                      "pattern": "^(20[0-9][0-9]|2100)$"}},
          summary="经办:录入某年度法定节假日与调休上班日(国务院公布后),并重算未决理赔的决定期限")
def put_calendar_year(ctx, body: CalendarYearIn, year: str):
    from chalicelib.services import claims

    if not (year.isdigit() and len(year) == 4 and 2000 <= int(year) <= 2100):
        raise BadRequest("CALENDAR_YEAR_INVALID", field="year")
    return CalendarYearOut.model_validate(claims.load_official_year(ports(), ctx.principal, int(year),
                                                                    body.holidays, body.workdays, _now()))


# ---- 免申即享: settlement records waiting for staff (DOMAIN §11.2) --------------------------------------------------
class SettlementReviewOut(ResponseModel):
    settlement_id: str
    outcome: str
    at: str
    seq: int
    policy_id: str | None = None
    plan_id: str | None = None
    service_date: str | None = None
    insured_name_masked: str | None = None
    id_number_masked: str | None = None
    reasons: list[str]
    reasons_zh: list[str]
    details: dict[str, Any]


@endpoint(bp, "/v1/admin/settlement-reviews", auth="staff", response=list[SettlementReviewOut], tags=("admin",),
          summary="经办:未能自动理赔、待人工核对的医保结算单(金额不平等),最早的在前",
          query={"limit": Param(f"page size 1–{MAX_PAGE} (default {DEFAULT_PAGE})", PAGE_SIZE)})
def settlement_reviews(ctx):
    from chalicelib.services.claims import automatic

    return [SettlementReviewOut.model_validate(r)
            for r in automatic.reviews(ports(), ctx.principal, _page_size(ctx.query.get("limit")))]
