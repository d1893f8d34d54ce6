"""POST /v1/estimates — what the 惠民保 layer would pay for bills from settlement slips, explained in plain Chinese.

`EstimateBill` is the bill shape of API.md ("<estimate bill>"), shared with claims: `to_bill()` gives the engine's Bill.
The engine and the plan model are imported on first use, not at cold start (pydantic plan models are costly to build).
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel

if TYPE_CHECKING:
    from chalicelib.domain.benefits import Bill, BillResult, YearToDate

bp = Blueprint(__name__)

MAX_FEN = 1_000_000_000_000
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, description="integer fen, 0 to 10^12")]
# The same values as chalicelib.domain.plan.SETTINGS (a test holds them equal), spelled here to keep imports light.
SettingIn = Literal["inpatient", "outpatient", "special_outpatient"]


class EstimateBill(RequestModel):
    """One settlement slip (结算单). Omitted amounts are 0; one `<category>_fen` field per DOMAIN §5 category."""

    service_date: date
    setting: SettingIn
    in_policy_after_catastrophic_fen: Fen = 0
    in_policy_below_catastrophic_fen: Fen = 0
    class_b_prepay_fen: Fen = 0
    restricted_fen: Fen = 0
    self_pay_fen: Fen = 0
    admission_list_fen: Fen = 0
    transfer_out_fen: Fen = 0
    negative_list_fen: Fen = 0

    def to_bill(self) -> Bill:
        from chalicelib.domain.benefits import Bill
        from chalicelib.domain.plan import CATEGORIES

        return Bill(self.service_date, self.setting, {c: getattr(self, f"{c}_fen") for c in CATEGORIES})


class YearToDateIn(RequestModel):
    deductible_used_fen: Fen = 0
    eligible_fen: Fen = 0
    paid_fen: Fen = 0


class EstimateRequest(RequestModel):
    plan_id: str | None = Field(default=None, min_length=1, max_length=64)
    policy_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="use the policy's benefit period and year-to-date state (login needed)")
    year_to_date: YearToDateIn | None = Field(default=None, description="anonymous what-if; not with policy_id")
    bills: list[EstimateBill] = Field(min_length=1, max_length=100)


class YearToDateOut(ResponseModel):
    deductible_used_fen: int
    eligible_fen: int
    paid_fen: int


class ExcludedOut(ResponseModel):
    category: str
    amount_fen: int
    reason: str  # negative_list | below_catastrophic_deductible | category_not_covered


class TierOut(ResponseModel):
    from_fen: int
    to_fen: int | None
    amount_fen: int
    ratio: str
    payout_fen: int  # this tier's amount × ratio, rounded to the fen as the explanation shows it


class BillEstimate(ResponseModel):
    index: int
    service_date: date
    setting: str
    covered_fen: int
    deductible_applied_fen: int
    eligible_fen: int
    payout_fen: int
    not_covered_reason: str | None  # setting_not_covered | before_benefit_start | after_benefit_end | excluded_period
    excluded: list[ExcludedOut]
    tiers: list[TierOut]
    rounding_adjustment_fen: int
    cap_reduction_fen: int
    explanation: list[str]


class PeriodOut(ResponseModel):
    start: date
    end: date


class EstimateResponse(ResponseModel):
    plan_id: str
    policy_id: str | None
    payout_fen: int
    bills: list[BillEstimate]
    year_to_date_before: YearToDateOut
    year_to_date_after: YearToDateOut
    benefit_period: PeriodOut
    notes: list[str]


def _ytd(ytd: YearToDate) -> YearToDateOut:
    return YearToDateOut(deductible_used_fen=ytd.deductible_used_fen, eligible_fen=ytd.eligible_fen,
                         paid_fen=ytd.paid_fen)


def _bill(r: BillResult) -> BillEstimate:
    return BillEstimate(
        index=r.index, service_date=r.service_date, setting=r.setting, covered_fen=r.covered_fen,
        deductible_applied_fen=r.deductible_applied_fen, eligible_fen=r.eligible_fen, payout_fen=r.payout_fen,
        not_covered_reason=r.not_covered,
        excluded=[ExcludedOut(category=e.category, amount_fen=e.amount_fen, reason=e.reason) for e in r.excluded],
        tiers=[TierOut(from_fen=t.from_fen, to_fen=t.to_fen, amount_fen=t.amount_fen, ratio=str(t.ratio),
                       payout_fen=t.shown_fen) for t in r.tiers],
        rounding_adjustment_fen=r.rounding_adjustment_fen, cap_reduction_fen=r.cap_reduction_fen,
        explanation=list(r.explanation))


@endpoint(bp, "/v1/estimates", methods=("POST",), auth="optional", request=EstimateRequest,
          response=EstimateResponse, summary="赔付试算:按结算单金额估算惠民保赔付,并逐项说明", tags=("estimates",))
def create_estimate(ctx, body: EstimateRequest):
    from chalicelib import deps
    from chalicelib.domain.benefits import YearToDate
    from chalicelib.services import estimates

    ytd = body.year_to_date
    outcome = estimates.estimate(
        deps.table, ctx.principal, plan_id=body.plan_id, policy_id=body.policy_id,
        year_to_date=YearToDate(ytd.deductible_used_fen, ytd.eligible_fen, ytd.paid_fen) if ytd else None,
        bills=[b.to_bill() for b in body.bills])
    result = outcome.estimate
    return EstimateResponse(
        plan_id=outcome.plan_id, policy_id=outcome.policy_id, payout_fen=result.payout_fen,
        bills=[_bill(r) for r in result.bills], year_to_date_before=_ytd(result.year_to_date_before),
        year_to_date_after=_ytd(result.year_to_date_after),
        benefit_period=PeriodOut(start=outcome.benefit_period.start, end=outcome.benefit_period.end),
        notes=outcome.notes)
