"""Estimates from a raw hospital bill (DOMAIN §12): basic insurance → 大病保险 → 惠民保, simulated with the city's
parameters (domain/city_insurance.py), explained in plain Chinese.

Pure: no I/O, no clock. Money is integer fen; each layer rounds half up once:

1. in_policy = total − self_pay − restricted − class_b_prepay − transfer_out (政策范围内费用).
2. Basic: with the rate for (basic type, setting, hospital level), `deductible_left` = the deductible, less what
   this year already used when it applies once a year (`deductible_per: year`); the bill's deductible part =
   min(in_policy, deductible_left); basic_paid = min(cap_left, round_half_up((in_policy − that) × ratio)).
3. 大病: the bill's in-policy self-pay `base = in_policy − basic_paid` adds to the year's cumulative base; the part
   of it under the annual 大病 deductible is this bill's 大病 deductible; above it, bands on the cumulative amount
   above the deductible, like a tax schedule, summed exactly and rounded once; then an optional annual cap.
4. 惠民保 gets the settlement-slip categories: in_policy_below_catastrophic = the bill's 大病 deductible part;
   in_policy_after_catastrophic = base − that − 大病 paid; class_b_prepay, restricted, transfer_out, admission_list
   and negative_list as given; self_pay = self_pay − negative_list − admission_list. Then DOMAIN §5
   (benefits.compute), with the 惠民保 year-to-date state, as for any slip.

The year-to-date state of the layers (`LayersYearToDate`) is carried bill by bill in service-date order (stable for
equal dates, as the 惠民保 engine orders them). A slip bill in the same request changes no layer state: its figures
are already after basic insurance and 大病.

So, per bill: total = basic_paid + catastrophic_paid + huiminbao_payout + member_pays, with member_pays ≥ 0.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.domain.benefits import (
    BenefitPeriod,
    Bill,
    BillResult,
    Estimate,
    ExcludedPeriod,
    YearToDate,
    compute,
    percent,
    yuan,
)
from chalicelib.domain.messages import MESSAGES

if TYPE_CHECKING:  # only types: importing this module must not build the pydantic parameter models
    from chalicelib.domain.city_insurance import BasicGroup, BasicRate, CatastrophicGroup, CityInsurance

RAW_PARTS = ("self_pay", "restricted", "class_b_prepay", "transfer_out")


# ---- inputs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawBill:
    """A hospital bill (医院收费票据 / 费用清单) as a member reads it, before any settlement, in fen."""

    service_date: date
    setting: str
    hospital_level: int
    basic_type: str
    total_fen: int
    self_pay_fen: int = 0  # 全自费, including the negative-list and admission-list items
    restricted_fen: int = 0  # 超限价
    class_b_prepay_fen: int = 0  # 乙类先行自付
    transfer_out_fen: int = 0  # 转外自理
    negative_list_fen: int = 0  # part of self_pay
    admission_list_fen: int = 0  # part of self_pay

    @property
    def in_policy_fen(self) -> int:
        return (self.total_fen - self.self_pay_fen - self.restricted_fen - self.class_b_prepay_fen
                - self.transfer_out_fen)


class RawBillProblem(NamedTuple):
    code: str
    field: str  # the field to name, relative to the raw bill
    details: dict


def raw_bill_problem(bill: RawBill) -> RawBillProblem | None:
    """Why a raw bill cannot be right as typed (parts larger than their whole), or None. Negative amounts are
    refused before this (the request model), and here too."""
    for name in ("total_fen", "self_pay_fen", "restricted_fen", "class_b_prepay_fen", "transfer_out_fen",
                 "negative_list_fen", "admission_list_fen"):
        if getattr(bill, name) < 0:
            return RawBillProblem("ESTIMATE_RAW_NEGATIVE", name, {"amount": yuan(getattr(bill, name))})
    parts = bill.total_fen - bill.in_policy_fen
    if parts > bill.total_fen:
        return RawBillProblem("ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "total_fen",
                              {"parts": yuan(parts), "total": yuan(bill.total_fen)})
    lists = bill.negative_list_fen + bill.admission_list_fen
    if lists > bill.self_pay_fen:
        return RawBillProblem("ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY", "self_pay_fen",
                              {"lists": yuan(lists), "self_pay": yuan(bill.self_pay_fen)})
    return None


@dataclass(frozen=True)
class LayersYearToDate:
    """The year's running totals of the simulated layers (what-if; nothing stores them)."""

    basic_deductible_used_fen: int = 0  # only deductibles that apply once a year count here
    basic_paid_fen: int = 0
    catastrophic_base_fen: int = 0  # cumulative in-policy self-pay after basic insurance (the 大病 base)
    catastrophic_paid_fen: int = 0

    def __post_init__(self) -> None:
        if min(self.basic_deductible_used_fen, self.basic_paid_fen, self.catastrophic_base_fen,
               self.catastrophic_paid_fen) < 0:
            raise ValueError("year-to-date figures cannot be negative")


# ---- results -----------------------------------------------------------------------------------------------------
class BandPart(NamedTuple):
    """The part of this bill's 大病 amount that fell in one band (bounds on the cumulative amount above the 大病
    deductible)."""

    from_fen: int
    to_fen: int | None
    amount_fen: int
    ratio: Decimal
    shown_fen: int  # amount × ratio rounded half up, as the explanation shows it


@dataclass(eq=False)
class LayerResult:
    """Basic insurance and 大病 for one raw bill, and the slip categories 惠民保 gets. A value: never mutated."""

    index: int
    bill: RawBill
    in_policy_fen: int
    # basic
    basic_deductible_left_before_fen: int
    basic_deductible_fen: int
    basic_before_cap_fen: int
    basic_paid_fen: int
    # 大病
    catastrophic_base_fen: int
    catastrophic_deductible_fen: int
    bands: tuple[BandPart, ...]
    catastrophic_rounding_adjustment_fen: int
    catastrophic_before_cap_fen: int
    catastrophic_paid_fen: int
    # 惠民保's input
    slip: dict[str, int]
    before_figures: tuple[int, int, int, int]  # the layers' year-to-date state this bill started from
    rate: BasicRate = field(repr=False)
    basic_group: BasicGroup = field(repr=False)
    catastrophic_group: CatastrophicGroup = field(repr=False)

    @property
    def before(self) -> LayersYearToDate:
        return LayersYearToDate(*self.before_figures)

    @property
    def basic_cap_reduction_fen(self) -> int:
        return self.basic_before_cap_fen - self.basic_paid_fen

    @property
    def catastrophic_cap_reduction_fen(self) -> int:
        return self.catastrophic_before_cap_fen - self.catastrophic_paid_fen

    @property
    def illustrative(self) -> bool:
        return self.basic_group.illustrative or self.catastrophic_group.illustrative


@dataclass(eq=False)
class LayeredBill:
    """A raw bill through all three layers."""

    layers: LayerResult
    huiminbao: BillResult
    city: CityInsurance = field(repr=False)

    @property
    def member_pays_fen(self) -> int:
        return (self.layers.bill.total_fen - self.layers.basic_paid_fen - self.layers.catastrophic_paid_fen
                - self.huiminbao.payout_fen)

    @cached_property
    def explanation(self) -> tuple[str, ...]:
        return _explain(self)


@dataclass(frozen=True)
class LayeredEstimate:
    estimate: Estimate  # 惠民保 over every bill of the request (raw ones as their slip categories), caller's order
    layered: list[LayeredBill | None]  # caller's order; None for a slip bill
    layers_before: LayersYearToDate
    layers_after: LayersYearToDate

    def totals(self) -> tuple[int, int, int, int, int, int, int]:
        """Σ over the raw bills: (total, basic deductible, basic paid, 大病 deductible, 大病 paid, 惠民保 paid,
        member pays)."""
        sums = [0] * 7
        for b in self.layered:
            if b is None:
                continue
            lr = b.layers
            for i, v in enumerate((lr.bill.total_fen, lr.basic_deductible_fen, lr.basic_paid_fen,
                                   lr.catastrophic_deductible_fen, lr.catastrophic_paid_fen, b.huiminbao.payout_fen,
                                   b.member_pays_fen)):
                sums[i] += v
        return tuple(sums)  # type: ignore[return-value]


# ---- the chain ---------------------------------------------------------------------------------------------------
def simulate_layers(city: CityInsurance, ytd: LayersYearToDate, bills: Sequence[RawBill],
                    indices: Sequence[int] | None = None) -> tuple[list[LayerResult], LayersYearToDate]:
    """Basic insurance and 大病 for `bills` in the order given (the caller orders them by service date), from
    `ytd`. Raises ValueError for input the API never lets through (unknown basic type / rate, a bad bill)."""
    used, basic_paid_ytd, base_ytd, cat_paid_ytd = (ytd.basic_deductible_used_fen, ytd.basic_paid_fen,
                                                    ytd.catastrophic_base_fen, ytd.catastrophic_paid_fen)
    out: list[LayerResult] = []
    rates, catastrophics = city.compiled()
    for position, bill in enumerate(bills):
        compiled = rates.get((bill.basic_type, bill.setting, bill.hospital_level))
        catastrophic = catastrophics.get(bill.basic_type)
        if compiled is None or catastrophic is None:
            raise ValueError(f"no parameters for {bill.basic_type}/{bill.setting}/level {bill.hospital_level} "
                             f"in {city.city}")
        self_pay = bill.self_pay_fen
        in_policy = bill.total_fen - self_pay - bill.restricted_fen - bill.class_b_prepay_fen - bill.transfer_out_fen
        # One cheap test for the usual, valid bill; the full check only to say what is wrong.
        if in_policy < 0 or bill.negative_list_fen + bill.admission_list_fen > self_pay or min(
                self_pay, bill.restricted_fen, bill.class_b_prepay_fen, bill.transfer_out_fen,
                bill.negative_list_fen, bill.admission_list_fen) < 0:
            problem = raw_bill_problem(bill)
            raise ValueError(f"{problem.code} ({problem.field})" if problem else "bad raw bill")
        before = (used, basic_paid_ytd, base_ytd, cat_paid_ytd)
        rate, deductible, per_year, n, d, cap, group = compiled

        # 1. basic: the deductible, then the ratio above it, then the pooled fund's annual cap.
        left = max(0, deductible - used) if per_year else deductible
        basic_ded = in_policy if in_policy < left else left
        basic_raw = (2 * (in_policy - basic_ded) * n + d) // (2 * d)
        basic_paid = basic_raw
        if cap is not None:
            room = cap - basic_paid_ytd
            if room < 0:
                room = 0
            if basic_paid > room:
                basic_paid = room
        if per_year:
            used += basic_ded
        basic_paid_ytd += basic_paid

        # 2. 大病: on the cumulative in-policy self-pay after basic insurance.
        cat_group, cat_deductible, bands, common, cat_cap = catastrophic
        base = in_policy - basic_paid
        start, end = base_ytd, base_ytd + base
        cat_ded = max(0, min(end, cat_deductible) - start) if start < cat_deductible else 0
        lo, hi = max(start, cat_deductible) - cat_deductible, end - cat_deductible  # above the deductible
        parts: list[BandPart] = []
        numerator = 0
        shown_total = 0
        if hi > lo:
            lower = 0
            for upper, scaled, bn, bd, ratio in bands:
                portion = (hi if upper is None or upper > hi else upper) - (lo if lo > lower else lower)
                if portion > 0:
                    numerator += portion * scaled
                    shown = (2 * portion * bn + bd) // (2 * bd)
                    shown_total += shown
                    parts.append(BandPart(lower, upper, portion, ratio, shown))
                if upper is None or upper >= hi:
                    break
                lower = upper
        cat_raw = (2 * numerator + common) // (2 * common)
        cat_paid = cat_raw
        if cat_cap is not None:
            room = cat_cap - cat_paid_ytd
            if room < 0:
                room = 0
            if cat_paid > room:
                cat_paid = room
        base_ytd = end
        cat_paid_ytd += cat_paid

        # 3. the slip categories 惠民保 reads (DOMAIN §12.3).
        slip = {
            "in_policy_after_catastrophic": base - cat_ded - cat_paid,
            "in_policy_below_catastrophic": cat_ded,
            "class_b_prepay": bill.class_b_prepay_fen,
            "restricted": bill.restricted_fen,
            "self_pay": self_pay - bill.negative_list_fen - bill.admission_list_fen,
            "admission_list": bill.admission_list_fen,
            "transfer_out": bill.transfer_out_fen,
            "negative_list": bill.negative_list_fen,
        }
        out.append(LayerResult(
            index=indices[position] if indices is not None else position, bill=bill, in_policy_fen=in_policy,
            basic_deductible_left_before_fen=left, basic_deductible_fen=basic_ded, basic_before_cap_fen=basic_raw,
            basic_paid_fen=basic_paid, catastrophic_base_fen=base, catastrophic_deductible_fen=cat_ded,
            bands=tuple(parts), catastrophic_rounding_adjustment_fen=cat_raw - shown_total,
            catastrophic_before_cap_fen=cat_raw, catastrophic_paid_fen=cat_paid, slip=slip,
            before_figures=before, rate=rate, basic_group=group, catastrophic_group=cat_group))
    return out, LayersYearToDate(used, basic_paid_ytd, base_ytd, cat_paid_ytd)


def estimate_with_layers(benefits, ytd: YearToDate, city: CityInsurance | None, layers_ytd: LayersYearToDate,
                         bills: Sequence[Bill | RawBill], benefit_period: BenefitPeriod | None = None,
                         excluded_periods: Sequence[ExcludedPeriod] = ()) -> LayeredEstimate:
    """Slip bills and raw bills in one request: raw bills go through basic and 大病 (in service-date order, carrying
    `layers_ytd`), then every bill through 惠民保 (benefits.compute, carrying `ytd`). `city` may be None only when
    no bill is raw."""
    order = sorted(range(len(bills)), key=lambda i: bills[i].service_date)  # stable, as compute() orders
    raw_order = [i for i in order if isinstance(bills[i], RawBill)]
    if raw_order and city is None:
        raise ValueError("raw bills need the city's parameters")
    layer_results, layers_after = (simulate_layers(city, layers_ytd, [bills[i] for i in raw_order], raw_order)
                                   if raw_order else ([], layers_ytd))
    by_index = {lr.index: lr for lr in layer_results}
    slips = [Bill(b.service_date, b.setting, by_index[i].slip) if i in by_index else b
             for i, b in enumerate(bills)]
    estimate = compute(benefits, ytd, slips, benefit_period, excluded_periods)
    layered: list[LayeredBill | None] = [
        LayeredBill(by_index[i], estimate.bills[i], city) if i in by_index else None  # type: ignore[arg-type]
        for i in range(len(bills))]
    return LayeredEstimate(estimate, layered, layers_ytd, layers_after)


# ---- wording (the catalogue lives in messages.py) ----------------------------------------------------------------
_M = MESSAGES
_BASIC_TYPE_ZH = {"employee": _M["ESTIMATE_RAW_BASIC_TYPE_EMPLOYEE"], "resident": _M["ESTIMATE_RAW_BASIC_TYPE_RESIDENT"]}
_LEVEL_ZH = {1: _M["ESTIMATE_RAW_LEVEL_1"], 2: _M["ESTIMATE_RAW_LEVEL_2"], 3: _M["ESTIMATE_RAW_LEVEL_3"]}
_SETTING_ZH = {s: _M[f"ESTIMATE_SETTING_{s.upper()}"] for s in ("inpatient", "outpatient", "special_outpatient")}


def basic_type_zh(basic_type: str) -> str:
    return _BASIC_TYPE_ZH.get(basic_type, basic_type)


def _band_label(lower: int, upper: int | None) -> str:
    if upper is None:
        return _M["ESTIMATE_RAW_BAND_ALL"] if lower == 0 else _M["ESTIMATE_RAW_BAND_ABOVE"].format(lower=yuan(lower))
    if lower == 0:
        return _M["ESTIMATE_RAW_BAND_UP_TO"].format(upper=yuan(upper))
    return _M["ESTIMATE_RAW_BAND_BETWEEN"].format(lower=yuan(lower), upper=yuan(upper))


def _explain(b: LayeredBill) -> tuple[str, ...]:
    """What each layer paid and why, where 大病 started, what 惠民保 pays at what ratio (its own lines), what the
    member still pays, and that the figures are simulated and the settlement slip governs."""
    lr, bill = b.layers, b.layers.bill
    lines: list[str] = []
    lines_total, basic_paid, catastrophic_paid = yuan(bill.total_fen), yuan(lr.basic_paid_fen), \
        yuan(lr.catastrophic_paid_fen)
    # The bill split into what basic insurance looks at and what it never pays.
    parts = [_M[f"ESTIMATE_RAW_PART_{name.upper()}"].format(amount=yuan(getattr(bill, f"{name}_fen")))
             for name in RAW_PARTS if getattr(bill, f"{name}_fen")]
    if parts:
        lines.append(_M["ESTIMATE_RAW_LINE_SPLIT"].format(total=lines_total, parts="、".join(parts),
                                                          in_policy=yuan(lr.in_policy_fen)))
    else:
        lines.append(_M["ESTIMATE_RAW_LINE_SPLIT_ALL_IN_POLICY"].format(total=lines_total))
    if bill.negative_list_fen or bill.admission_list_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_SELF_PAY_LISTS"].format(negative=yuan(bill.negative_list_fen),
                                                                   admission=yuan(bill.admission_list_fen)))

    # Basic insurance.
    rate = lr.rate
    lines.append(_M["ESTIMATE_RAW_LINE_BASIC_RULE"].format(
        basic_type=basic_type_zh(bill.basic_type), level=_LEVEL_ZH[bill.hospital_level],
        setting=_SETTING_ZH[bill.setting], deductible=yuan(rate.deductible_fen),
        per=_M["ESTIMATE_RAW_PER_YEAR" if rate.deductible_per == "year" else "ESTIMATE_RAW_PER_ADMISSION"],
        ratio=percent(rate.ratio)))
    if not lr.in_policy_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_BASIC_NOTHING_IN_POLICY"])
    else:
        if rate.deductible_fen and lr.basic_deductible_left_before_fen == 0:
            lines.append(_M["ESTIMATE_RAW_LINE_BASIC_DEDUCTIBLE_ALREADY_MET"])
        elif lr.basic_deductible_fen:
            lines.append(_M["ESTIMATE_RAW_LINE_BASIC_DEDUCTIBLE"].format(used=yuan(lr.basic_deductible_fen)))
        above = lr.in_policy_fen - lr.basic_deductible_fen
        if above:
            lines.append(_M["ESTIMATE_RAW_LINE_BASIC_PAID_RATIO"].format(
                above=yuan(above), ratio=percent(rate.ratio), paid=yuan(lr.basic_before_cap_fen)))
        else:
            lines.append(_M["ESTIMATE_RAW_LINE_BASIC_BELOW_DEDUCTIBLE"])
        if lr.basic_cap_reduction_fen:
            lines.append(_M["ESTIMATE_RAW_LINE_CAP"].format(
                layer=_M["ESTIMATE_RAW_LAYER_BASIC"], cap=yuan(lr.basic_group.cap_fen or 0),
                paid_before=yuan(lr.before_figures[1]), before=yuan(lr.basic_before_cap_fen),
                paid=basic_paid))
    lines.append(_M["ESTIMATE_RAW_LINE_BASIC_TOTAL"].format(paid=basic_paid))

    # 大病保险: where it starts, the bands.
    group = lr.catastrophic_group
    cumulative_before = lr.before_figures[2]
    cumulative = cumulative_before + lr.catastrophic_base_fen
    lines.append(_M["ESTIMATE_RAW_LINE_CAT_BASE"].format(base=yuan(lr.catastrophic_base_fen),
                                                         cumulative=yuan(cumulative)))
    lines.append(_M["ESTIMATE_RAW_LINE_CAT_RULE"].format(deductible=yuan(group.deductible_fen)))
    if cumulative <= group.deductible_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_CAT_NOT_REACHED"].format(left=yuan(group.deductible_fen - cumulative)))
    elif cumulative_before >= group.deductible_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_CAT_ALREADY_REACHED"])
    else:
        lines.append(_M["ESTIMATE_RAW_LINE_CAT_STARTS"].format(
            below=yuan(lr.catastrophic_deductible_fen),
            above=yuan(lr.catastrophic_base_fen - lr.catastrophic_deductible_fen)))
    for part in lr.bands:
        lines.append(_M["ESTIMATE_RAW_LINE_BAND"].format(band=_band_label(part.from_fen, part.to_fen),
                                                         amount=yuan(part.amount_fen), ratio=percent(part.ratio),
                                                         paid=yuan(part.shown_fen)))
    if lr.catastrophic_rounding_adjustment_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_BAND_ROUNDING"].format(
            adjustment=yuan(lr.catastrophic_rounding_adjustment_fen), paid=yuan(lr.catastrophic_before_cap_fen)))
    if lr.catastrophic_cap_reduction_fen:
        lines.append(_M["ESTIMATE_RAW_LINE_CAP"].format(
            layer=_M["ESTIMATE_RAW_LAYER_CATASTROPHIC"], cap=yuan(group.cap_fen or 0),
            paid_before=yuan(lr.before_figures[3]), before=yuan(lr.catastrophic_before_cap_fen),
            paid=catastrophic_paid))
    lines.append(_M["ESTIMATE_RAW_LINE_CAT_TOTAL"].format(paid=catastrophic_paid))

    # 惠民保: what it reads from the simulated slip, then its own lines (categories, deductible, tiers with ratios).
    lines.append(_M["ESTIMATE_RAW_LINE_HUIMINBAO"].format(
        after=yuan(lr.slip["in_policy_after_catastrophic"]), below=yuan(lr.slip["in_policy_below_catastrophic"])))
    lines.extend(b.huiminbao.explanation)

    # What is left for the member, and what decides.
    lines.append(_M["ESTIMATE_RAW_LINE_SUM"].format(
        total=lines_total, basic=basic_paid, catastrophic=catastrophic_paid,
        huiminbao=yuan(b.huiminbao.payout_fen), member=yuan(b.member_pays_fen)))
    if lr.illustrative:
        lines.append(_M["ESTIMATE_RAW_LINE_ILLUSTRATIVE"].format(city=b.city.city_name))
    else:
        lines.append(_M["ESTIMATE_RAW_LINE_SOURCED"].format(
            sources="、".join(dict.fromkeys(g.source or "" for g in (lr.basic_group, group)))))
    return tuple(lines)
