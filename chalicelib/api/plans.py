"""GET /v1/plans, GET /v1/plans/{plan_id}."""
from __future__ import annotations

from datetime import date

from chalice import Blueprint

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import ResponseModel

bp = Blueprint(__name__)


class PlanSummary(ResponseModel):
    plan_id: str
    name: str
    city: str
    city_name: str
    coverage_start: date
    coverage_end: date
    window_start: date
    window_end: date
    sales_end: date
    premium_fen: int
    status: str


class TierOut(ResponseModel):
    up_to_fen: int | None
    ratio: str


class CategoryOut(ResponseModel):
    covered: bool
    deductible_applies: bool
    factor: str


class BenefitSummary(ResponseModel):
    settings_covered: list[str]
    categories: dict[str, CategoryOut]
    deductible_fen: int
    tiers: list[TierOut]
    annual_cap_fen: int | None
    summary_zh: str


class RenewalOut(ResponseModel):
    """How the renewal into this plan runs (DOMAIN §9.2–9.3): notices from `notice_on`, one deduction on
    `deduction_on`, and no deduction without a notice at least `min_notice_days` before it."""

    from_plan_id: str
    notice_on: date
    deduction_on: date
    min_notice_days: int
    source: str


class PlanDetail(PlanSummary):
    scheme: str
    insurer: str
    source_documents: list[str]
    first_operating_year: bool
    previous_plan_id: str | None
    premium: dict
    eligibility: dict
    payment_methods: list[str]
    personal_account_relationships: list[str]
    max_relatives_per_payer: int
    max_insured_per_order: int
    waiting: dict
    benefits: BenefitSummary
    warnings: list[str]
    notes: list[str]
    renewal: RenewalOut | None


def _summary(plan, today: date) -> dict:
    return {"plan_id": plan.plan_id, "name": plan.name, "city": plan.city, "city_name": plan.city_name,
            "coverage_start": plan.coverage_start, "coverage_end": plan.coverage_end,
            "window_start": plan.window_start, "window_end": plan.window_end, "sales_end": plan.sales_end,
            "premium_fen": plan.premium_fen, "status": plan.status_on(today)}


@endpoint(bp, "/v1/plans", summary="在售及历年保险方案", auth="none", response=list[PlanSummary], tags=("plans",))
def list_plans(ctx):
    from chalicelib import deps
    from chalicelib.plans import all_plans

    today = deps.clock().today()
    return [PlanSummary(**_summary(p, today)) for p in all_plans().values()]


@endpoint(bp, "/v1/plans/{plan_id}", summary="方案详情:参保条件、支付方式、待遇", auth="none", response=PlanDetail,
          tags=("plans",))
def get_plan(ctx, plan_id: str):
    from chalicelib import deps
    from chalicelib.plans import get_plan as lookup

    plan = lookup(plan_id)
    pa = plan.personal_account
    data = plan.model_dump(mode="json")
    return PlanDetail(
        **_summary(plan, deps.clock().today()),
        scheme=plan.scheme, insurer=plan.insurer, source_documents=plan.source_documents,
        first_operating_year=plan.first_operating_year, previous_plan_id=plan.previous_plan_id,
        premium=data["premium"], eligibility=data["eligibility"], payment_methods=plan.payment_methods,
        personal_account_relationships=list(pa.relationships_allowed) if pa else [],
        max_relatives_per_payer=pa.max_relatives_per_payer if pa else 0,
        max_insured_per_order=plan.max_insured_per_order, waiting=data["waiting"], benefits=data["benefits"],
        warnings=plan.warnings(), notes=plan.notes, renewal=_renewal(plan),
    )


def _renewal(plan) -> RenewalOut | None:
    schedule = plan.renewal_schedule()
    if schedule is None:
        return None
    return RenewalOut(from_plan_id=schedule.from_plan_id, notice_on=schedule.notice_on,
                      deduction_on=schedule.deduction_on, min_notice_days=schedule.min_notice_days,
                      source=plan.renewal.source)
