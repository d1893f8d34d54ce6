"""POST /v1/estimates — what the 惠民保 layer would pay for bills from settlement slips, explained in plain Chinese;
and, for a raw hospital bill (`raw`, DOMAIN §12), what basic insurance and 大病 would pay first (simulated).

`EstimateBill` is the bill shape of API.md ("<estimate bill>"), shared with claims: `to_bill()` gives the engine's Bill.
`EstimateRequestBill` adds the raw bill, for estimates only (a claim needs the settlement slip).
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
    from chalicelib.domain.layers import LayeredBill, LayersYearToDate, RawBill

bp = Blueprint(__name__)

MAX_FEN = 1_000_000_000_000
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, description="integer fen, 0 to 10^12")]
# The same values as chalicelib.domain.plan.SETTINGS (a test holds them equal), spelled here to keep imports light.
SettingIn = Literal["inpatient", "outpatient", "special_outpatient"]
BasicTypeIn = Literal["employee", "resident"]  # = chalicelib.domain.vocabulary.BasicType


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


class RawBillIn(RequestModel):
    """A hospital bill before settlement (DOMAIN §12). negative_list and admission_list are parts of self_pay."""

    total_fen: Fen = Field(description="医疗费总额")
    self_pay_fen: Fen = Field(default=0, description="全自费, including the negative-list and admission-list items")
    restricted_fen: Fen = Field(default=0, description="超限价")
    class_b_prepay_fen: Fen = Field(default=0, description="乙类先行自付")
    transfer_out_fen: Fen = Field(default=0, description="转外自理")
    negative_list_fen: Fen = Field(default=0, description="负面清单 items, part of self_pay")
    admission_list_fen: Fen = Field(default=0, description="准入清单 items, part of self_pay")


class EstimateRequestBill(EstimateBill):
    """A settlement slip, or (with `raw`, `hospital_level` and `basic_type`, and no slip amounts) a raw bill."""

    raw: RawBillIn | None = Field(default=None, description="a raw hospital bill instead of slip amounts")
    hospital_level: Literal[1, 2, 3] | None = Field(default=None, description="with raw: 1–3 (一级/二级/三级医院)")
    basic_type: BasicTypeIn | None = Field(default=None, description="with raw: 职工 employee / 城乡居民 resident")


class YearToDateIn(RequestModel):
    deductible_used_fen: Fen = 0
    eligible_fen: Fen = 0
    paid_fen: Fen = 0


class LayersYearToDateIn(RequestModel):
    basic_deductible_used_fen: Fen = 0
    basic_paid_fen: Fen = 0
    catastrophic_base_fen: Fen = Field(default=0, description="cumulative in-policy self-pay after basic insurance")
    catastrophic_paid_fen: Fen = 0


class EstimateRequest(RequestModel):
    plan_id: str | None = Field(default=None, min_length=1, max_length=64)
    policy_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="use the policy's benefit period and year-to-date state (login needed)")
    year_to_date: YearToDateIn | None = Field(default=None, description="anonymous what-if; not with policy_id")
    layers_year_to_date: LayersYearToDateIn | None = Field(
        default=None, description="what-if state of the simulated basic and 大病 layers (raw bills)")
    bills: list[EstimateRequestBill] = Field(min_length=1, max_length=100)


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


class LayerOut(ResponseModel):
    deductible_fen: int = Field(description="the part of this bill that went to this layer's deductible")
    paid_fen: int


class HuiminbaoLayerOut(ResponseModel):
    payout_fen: int


class LayersSumOut(ResponseModel):
    total_fen: int
    basic: LayerOut
    catastrophic: LayerOut
    huiminbao: HuiminbaoLayerOut
    member_pays_fen: int


class SlipOut(ResponseModel):
    """The settlement-slip amounts the chain left for 惠民保 (the estimate bill's fields)."""

    in_policy_after_catastrophic_fen: int
    in_policy_below_catastrophic_fen: int
    class_b_prepay_fen: int
    restricted_fen: int
    self_pay_fen: int
    admission_list_fen: int
    transfer_out_fen: int
    negative_list_fen: int


class BillLayersOut(LayersSumOut):
    in_policy_fen: int
    basic_cap_reduction_fen: int
    catastrophic_bands: list[TierOut]  # bounds on the cumulative amount above the 大病 deductible
    catastrophic_cap_reduction_fen: int
    slip: SlipOut


class BasicParametersOut(ResponseModel):
    basic_type: str
    setting: str
    hospital_level: int
    deductible_fen: int
    deductible_per: str  # year | admission
    ratio: str
    cap_fen: int | None
    source: str | None
    illustrative: bool
    basis: str


class BandOut(ResponseModel):
    up_to_fen: int | None
    ratio: str


class CatastrophicParametersOut(ResponseModel):
    deductible_fen: int
    bands: list[BandOut]
    cap_fen: int | None
    source: str | None
    illustrative: bool
    basis: str


class ParametersOut(ResponseModel):
    city: str
    city_name: str
    basic: BasicParametersOut
    catastrophic: CatastrophicParametersOut


class LayersYearToDateOut(ResponseModel):
    basic_deductible_used_fen: int
    basic_paid_fen: int
    catastrophic_base_fen: int
    catastrophic_paid_fen: int


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
    simulated: bool = False  # true for a raw bill
    layers: BillLayersOut | None = None  # raw bills only
    parameters: ParametersOut | None = None  # raw bills only


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
    simulated: bool = Field(default=False, description="true when a bill is raw: basic and 大病 are simulated")
    layers: LayersSumOut | None = Field(default=None, description="Σ of the layers over the raw bills")
    layers_year_to_date_before: LayersYearToDateOut | None = None
    layers_year_to_date_after: LayersYearToDateOut | None = None


def _ytd(ytd: YearToDate) -> YearToDateOut:
    return YearToDateOut(deductible_used_fen=ytd.deductible_used_fen, eligible_fen=ytd.eligible_fen,
                         paid_fen=ytd.paid_fen)


def _bill(r: BillResult, layered: LayeredBill | None = None) -> BillEstimate:
    out = BillEstimate(
        index=r.index, service_date=r.service_date, setting=r.setting, covered_fen=r.covered_fen,
        deductible_applied_fen=r.deductible_applied_fen, eligible_fen=r.eligible_fen, payout_fen=r.payout_fen,
        not_covered_reason=r.not_covered,
        excluded=[ExcludedOut(category=e.category, amount_fen=e.amount_fen, reason=e.reason) for e in r.excluded],
        tiers=[TierOut(from_fen=t.from_fen, to_fen=t.to_fen, amount_fen=t.amount_fen, ratio=str(t.ratio),
                       payout_fen=t.shown_fen) for t in r.tiers],
        rounding_adjustment_fen=r.rounding_adjustment_fen, cap_reduction_fen=r.cap_reduction_fen,
        explanation=list(r.explanation if layered is None else layered.explanation))
    if layered is not None:
        out.simulated, out.layers, out.parameters = True, _layers(layered), _parameters(layered)
    return out


def _layers(b: LayeredBill) -> BillLayersOut:
    lr = b.layers
    return BillLayersOut(
        total_fen=lr.bill.total_fen, in_policy_fen=lr.in_policy_fen,
        basic=LayerOut(deductible_fen=lr.basic_deductible_fen, paid_fen=lr.basic_paid_fen),
        basic_cap_reduction_fen=lr.basic_cap_reduction_fen,
        catastrophic=LayerOut(deductible_fen=lr.catastrophic_deductible_fen, paid_fen=lr.catastrophic_paid_fen),
        catastrophic_bands=[TierOut(from_fen=p.from_fen, to_fen=p.to_fen, amount_fen=p.amount_fen, ratio=str(p.ratio),
                                    payout_fen=p.shown_fen) for p in lr.bands],
        catastrophic_cap_reduction_fen=lr.catastrophic_cap_reduction_fen,
        huiminbao=HuiminbaoLayerOut(payout_fen=b.huiminbao.payout_fen), member_pays_fen=b.member_pays_fen,
        slip=SlipOut(**{f"{c}_fen": v for c, v in lr.slip.items()}))


def _parameters(b: LayeredBill) -> ParametersOut:
    rate, basic, cat = b.layers.rate, b.layers.basic_group, b.layers.catastrophic_group
    return ParametersOut(
        city=b.city.city, city_name=b.city.city_name,
        basic=BasicParametersOut(
            basic_type=basic.basic_type, setting=rate.setting, hospital_level=rate.hospital_level,
            deductible_fen=rate.deductible_fen, deductible_per=rate.deductible_per, ratio=str(rate.ratio),
            cap_fen=basic.cap_fen, source=basic.source, illustrative=basic.illustrative, basis=basic.basis),
        catastrophic=CatastrophicParametersOut(
            deductible_fen=cat.deductible_fen, bands=[BandOut(up_to_fen=x.up_to_fen, ratio=str(x.ratio))
                                                      for x in cat.bands],
            cap_fen=cat.cap_fen, source=cat.source, illustrative=cat.illustrative, basis=cat.basis))


def _layers_ytd(y: LayersYearToDate) -> LayersYearToDateOut:
    return LayersYearToDateOut(basic_deductible_used_fen=y.basic_deductible_used_fen, basic_paid_fen=y.basic_paid_fen,
                               catastrophic_base_fen=y.catastrophic_base_fen,
                               catastrophic_paid_fen=y.catastrophic_paid_fen)


def _engine_bill(i: int, b: EstimateRequestBill) -> Bill | RawBill:
    """A slip bill → the engine's Bill; a raw bill → RawBill. Mixed or half-given shapes → 400 naming the field."""
    from chalicelib.domain.errors import BadRequest
    from chalicelib.domain.messages import FIELD_LABELS
    from chalicelib.domain.plan import CATEGORIES

    if b.raw is None:
        for name in ("hospital_level", "basic_type"):
            if getattr(b, name) is not None:
                raise BadRequest("ESTIMATE_RAW_FIELD_WITHOUT_RAW", field=f"bills.{i}.{name}", index=i + 1,
                                 label=FIELD_LABELS[name])
        return b.to_bill()
    from chalicelib.domain.layers import RawBill

    for category in CATEGORIES:
        if getattr(b, f"{category}_fen"):
            raise BadRequest("ESTIMATE_RAW_WITH_SLIP_AMOUNTS", field=f"bills.{i}.{category}_fen", index=i + 1)
    for name in ("hospital_level", "basic_type"):
        if getattr(b, name) is None:
            raise BadRequest("ESTIMATE_RAW_FIELD_REQUIRED", field=f"bills.{i}.{name}", index=i + 1,
                             label=FIELD_LABELS[name])
    raw = b.raw
    return RawBill(b.service_date, b.setting, b.hospital_level, b.basic_type, total_fen=raw.total_fen,  # type: ignore[arg-type]
                   self_pay_fen=raw.self_pay_fen, restricted_fen=raw.restricted_fen,
                   class_b_prepay_fen=raw.class_b_prepay_fen, transfer_out_fen=raw.transfer_out_fen,
                   negative_list_fen=raw.negative_list_fen, admission_list_fen=raw.admission_list_fen)


@endpoint(bp, "/v1/estimates", methods=("POST",), auth="optional", request=EstimateRequest,
          response=EstimateResponse, summary="赔付试算:按结算单金额估算惠民保赔付,并逐项说明", tags=("estimates",))
def create_estimate(ctx, body: EstimateRequest):
    from chalicelib import deps
    from chalicelib.domain.benefits import YearToDate
    from chalicelib.services import estimates

    ytd, lytd = body.year_to_date, body.layers_year_to_date
    layers_ytd = None
    if lytd is not None:
        from chalicelib.domain.layers import LayersYearToDate

        layers_ytd = LayersYearToDate(lytd.basic_deductible_used_fen, lytd.basic_paid_fen,
                                      lytd.catastrophic_base_fen, lytd.catastrophic_paid_fen)
    outcome = estimates.estimate(
        deps.estimate_ports, ctx.principal, plan_id=body.plan_id, policy_id=body.policy_id,
        year_to_date=YearToDate(ytd.deductible_used_fen, ytd.eligible_fen, ytd.paid_fen) if ytd else None,
        bills=[_engine_bill(i, b) for i, b in enumerate(body.bills)], layers_year_to_date=layers_ytd)
    result = outcome.estimate
    layered = outcome.layered
    response = EstimateResponse(
        plan_id=outcome.plan_id, policy_id=outcome.policy_id, payout_fen=result.payout_fen,
        bills=[_bill(r, layered.layered[r.index] if layered else None) for r in result.bills],
        year_to_date_before=_ytd(result.year_to_date_before),
        year_to_date_after=_ytd(result.year_to_date_after),
        benefit_period=PeriodOut(start=outcome.benefit_period.start, end=outcome.benefit_period.end),
        notes=outcome.notes)
    if layered is not None:
        response.layers_year_to_date_before = _layers_ytd(layered.layers_before)
        response.layers_year_to_date_after = _layers_ytd(layered.layers_after)
        if any(b is not None for b in layered.layered):
            total, b_ded, b_paid, c_ded, c_paid, h_paid, member = layered.totals()
            response.simulated = True
            response.layers = LayersSumOut(
                total_fen=total, basic=LayerOut(deductible_fen=b_ded, paid_fen=b_paid),
                catastrophic=LayerOut(deductible_fen=c_ded, paid_fen=c_paid),
                huiminbao=HuiminbaoLayerOut(payout_fen=h_paid), member_pays_fen=member)
    return response
