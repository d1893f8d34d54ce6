"""The benefit engine (DOMAIN §5): plan settings + year-to-date state + bills → what each bill pays, and why.

Pure: no I/O, no clock. Everything a city decides (covered settings, per-category coverage, deductible and factor,
the annual deductible, tiers, the cap) comes from `Benefits`; no city's numbers live here.

Computation, bill by bill in service-date order (stable for equal dates), carrying `YearToDate`:

1. a bill whose setting is not covered, whose service date lies outside the benefit period or inside an excluded
   period (e.g. a basic-insurance suspension, DOMAIN §2.4) pays 0 and changes nothing;
2. each covered category counts `round_half_up(amount × factor)` fen;
3. the deductible (起付线) is consumed by the categories it applies to, up to what is left of it this year;
4. the eligible amount is paid tier by tier on the cumulative eligible amount, exactly in Decimal, and the bill's
   payout is rounded half-up to the fen once;
5. an annual cap limits what the year can pay in total.

Results come back in the caller's order (each carries its `index` and `service_date`), so a client can match them.
The explanation (plain Chinese, yuan to the fen) is built from the same figures, which are also returned as data:
Σ tier amounts shown + rounding adjustment − cap reduction = payout, always.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact
from functools import cached_property, lru_cache
from typing import Literal, NamedTuple

from chalicelib.domain.messages import MESSAGES
from chalicelib.domain.plan import CATEGORIES, SETTINGS, Benefits

# Amounts up to 10^12 fen × up to 100 bills × exact ratios stay far inside 60 digits; Inexact is trapped so an
# inexact product can never pass silently.
_EXACT = Context(prec=60, traps=[Inexact])
_ONE = Decimal(1)
_ZERO = Decimal(0)

BillExclusion = Literal["setting_not_covered", "before_benefit_start", "after_benefit_end", "excluded_period"]
CategoryExclusion = Literal["negative_list", "below_catastrophic_deductible", "category_not_covered"]
PeriodKind = Literal["policy", "plan"]


def round_half_up(value: Decimal) -> int:
    """Round to a whole fen, halves away from zero (四舍五入)."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """12345678 → '123,456.78' (yuan to the fen, thousands separated). Hot in every explanation, hence terse."""
    if fen < 0:
        return "-" + yuan(-fen)
    whole, cents = divmod(fen, 100)
    return (f"{whole:,}" if whole >= 1000 else str(whole)) + _CENTS[cents]


_CENTS = tuple(f".{c:02d}" for c in range(100))


@lru_cache(maxsize=256)
def percent(ratio: Decimal) -> str:
    """Decimal('0.75') → '75%', Decimal('0.855') → '85.5%'."""
    text = format((ratio * 100).normalize(), "f")
    return f"{text}%"


# ---- inputs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YearToDate:
    """The policy year's running totals (年度累计), advanced only by paid claims."""

    deductible_used_fen: int = 0
    eligible_fen: int = 0
    paid_fen: int = 0

    def __post_init__(self) -> None:
        if min(self.deductible_used_fen, self.eligible_fen, self.paid_fen) < 0:
            raise ValueError("year-to-date figures cannot be negative")


@dataclass(frozen=True)
class Bill:
    """One settlement slip (结算单): its service date, setting and amounts in fen by category (missing = 0)."""

    service_date: date
    setting: str
    amounts: Mapping[str, int] = field(default_factory=dict)

    def total_fen(self) -> int:
        return sum(self.amounts.values())


@dataclass(frozen=True)
class BenefitPeriod:
    """Service dates the bills must fall in: a policy's [benefit_start, coverage_end] or, for an anonymous
    estimate, the plan's coverage dates. `of` only changes the wording of the explanation."""

    start: date
    end: date
    of: PeriodKind = "policy"


@dataclass(frozen=True)
class ExcludedPeriod:
    """Dates with no benefits, e.g. a basic-insurance suspension (`reason_zh` says which, for the member).
    `end` None = still running."""

    start: date
    end: date | None
    reason_zh: str

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


# ---- results -----------------------------------------------------------------------------------------------------
class CategoryLine(NamedTuple):
    """A category as it counted: `covered_fen` = round_half_up(amount × factor)."""

    category: str
    amount_fen: int
    factor: Decimal
    covered_fen: int
    deductible_applies: bool


class ExcludedAmount(NamedTuple):
    category: str
    amount_fen: int
    reason: CategoryExclusion


class TierPart(NamedTuple):
    """The part of this bill's eligible amount that fell in one tier of the cumulative eligible amount."""

    from_fen: int  # tier's lower bound (exclusive)
    to_fen: int | None  # tier's upper bound (inclusive); None = unbounded
    amount_fen: int
    ratio: Decimal
    raw: Decimal  # amount × ratio, exact
    shown_fen: int  # raw rounded half-up, as the explanation shows it


@dataclass(eq=False)
class BillResult:
    """What one bill pays, as figures; `explanation` renders them in plain Chinese on first use (the claims flow
    needs only the figures, so they are not paid for twice). Treat as a value: nothing here is ever mutated."""

    index: int  # position in the caller's list
    service_date: date
    setting: str
    covered_fen: int  # Σ covered categories after factors, before the deductible
    deductible_applied_fen: int
    eligible_fen: int
    payout_fen: int
    not_covered: BillExclusion | None  # why the whole bill pays nothing, if it does for that reason
    not_covered_detail: str | None  # the same in Chinese
    counted: tuple[CategoryLine, ...]
    excluded: tuple[ExcludedAmount, ...]
    tiers: tuple[TierPart, ...]
    raw_payout: Decimal  # Σ tier raw, exact
    rounding_adjustment_fen: int  # payout before the cap − Σ tier shown_fen
    cap_reduction_fen: int
    total_fen: int  # Σ every amount on the bill, covered or not
    before: tuple[int, int, int]  # the year-to-date state this bill started from (deductible used, eligible, paid)
    benefits: Benefits = field(repr=False)

    @property
    def ytd_before(self) -> YearToDate:
        return YearToDate(*self.before)

    @cached_property
    def explanation(self) -> tuple[str, ...]:
        return _explain(self)


@dataclass(frozen=True)
class Estimate:
    bills: list[BillResult]  # in the caller's order
    payout_fen: int
    year_to_date_before: YearToDate
    year_to_date_after: YearToDate


# ---- the engine --------------------------------------------------------------------------------------------------
class _Rule(NamedTuple):
    category: str
    covered: bool
    exclusion: CategoryExclusion | None
    factor: Decimal | None  # None = 1, no multiplication needed
    deductible_applies: bool


def _rules(benefits: Benefits) -> dict[str, _Rule]:
    out = {}
    for category in CATEGORIES:
        rule = benefits.categories[category]
        exclusion: CategoryExclusion | None = None
        if not rule.covered:
            exclusion = ("negative_list" if category == "negative_list" else
                         "below_catastrophic_deductible" if category == "in_policy_below_catastrophic"
                         else "category_not_covered")
        out[category] = _Rule(category, rule.covered, exclusion, None if rule.factor == _ONE else rule.factor,
                               rule.deductible_applies)
    return out


def compute(benefits: Benefits, ytd: YearToDate, bills: Sequence[Bill],
            benefit_period: BenefitPeriod | tuple[date, date] | None = None,
            excluded_periods: Sequence[ExcludedPeriod] = ()) -> Estimate:
    """Apply DOMAIN §5 to `bills` from the year-to-date state `ytd`. Never mutates anything it is given.

    Raises ValueError for input the API never lets through (unknown setting or category, negative amount)."""
    if isinstance(benefit_period, tuple):
        benefit_period = BenefitPeriod(*benefit_period)
    rules = _rules(benefits)
    tiers = [(t.up_to_fen, t.ratio) for t in benefits.tiers]
    order = sorted(range(len(bills)), key=lambda i: bills[i].service_date)  # sorted() is stable
    results: list[BillResult | None] = [None] * len(bills)
    state = (ytd.deductible_used_fen, ytd.eligible_fen, ytd.paid_fen)  # carried as plain ints: this loop is hot
    for i in order:
        bill = bills[i]
        reason = _bill_exclusion(benefits, bill, benefit_period, excluded_periods)
        if reason is None:
            results[i], state = _one_bill(benefits, rules, tiers, state, i, bill)
        else:
            results[i] = _not_covered(benefits, state, i, bill, *reason)
    done = [r for r in results if r is not None]
    return Estimate(bills=done, payout_fen=sum(r.payout_fen for r in done), year_to_date_before=ytd,
                    year_to_date_after=YearToDate(*state))


def _bill_exclusion(benefits: Benefits, bill: Bill, period: BenefitPeriod | None,
                    excluded_periods: Sequence[ExcludedPeriod]) -> tuple[BillExclusion, str] | None:
    """Why the whole bill pays nothing (DOMAIN §5.1, §2.4, §4.8), or None."""
    if bill.setting not in benefits.settings_covered:
        if bill.setting not in SETTINGS:
            raise ValueError(f"unknown setting {bill.setting!r}")
        covered = "、".join(_SETTING_ZH[s] for s in benefits.settings_covered)
        return "setting_not_covered", _M["ESTIMATE_REASON_SETTING"].format(setting=_SETTING_ZH[bill.setting],
                                                                            covered=covered)
    day = bill.service_date
    if period is not None:
        start_text, end_text = _PERIOD_ZH[period.of]
        if day < period.start:
            return "before_benefit_start", start_text.format(day=day.isoformat(), start=period.start.isoformat())
        if day > period.end:
            return "after_benefit_end", end_text.format(day=day.isoformat(), end=period.end.isoformat())
    for excluded in excluded_periods:
        if excluded.contains(day):
            until = excluded.end.isoformat() if excluded.end else _M["ESTIMATE_PERIOD_OPEN_END"]
            return "excluded_period", _M["ESTIMATE_REASON_EXCLUDED_PERIOD"].format(
                day=day.isoformat(), reason=excluded.reason_zh, start=excluded.start.isoformat(), end=until)
    return None


def _check_amounts(bill: Bill) -> int:
    total = 0
    for category, amount in bill.amounts.items():
        if category not in _CATEGORY_ZH:
            raise ValueError(f"unknown category {category!r}")
        if amount < 0:
            raise ValueError(f"negative amount for {category}")
        total += amount
    return total


def _not_covered(benefits: Benefits, ytd: tuple[int, int, int], index: int, bill: Bill, reason: BillExclusion,
                 detail: str) -> BillResult:
    return BillResult(index, bill.service_date, bill.setting, 0, 0, 0, 0, reason, detail, (), (), (), _ZERO, 0, 0,
                      _check_amounts(bill), ytd, benefits)


def _one_bill(benefits: Benefits, rules: dict[str, _Rule], tiers: list[tuple[int | None, Decimal]],
              ytd: tuple[int, int, int], index: int, bill: Bill) -> tuple[BillResult, tuple[int, int, int]]:
    deductible_used, eligible_before, paid_before = ytd
    total = 0
    counted: list[CategoryLine] = []
    excluded: list[ExcludedAmount] = []
    subject_to_deductible = 0  # D
    free_of_deductible = 0  # Z
    for category, amount in bill.amounts.items():
        rule = rules.get(category)
        if rule is None or amount < 0:
            _check_amounts(bill)  # raises, naming the problem
        total += amount
        if not amount:
            continue
        if not rule.covered:
            excluded.append(ExcludedAmount(category, amount, rule.exclusion))  # type: ignore[arg-type]
            continue
        factor = rule.factor
        covered = amount if factor is None else round_half_up(_EXACT.multiply(Decimal(amount), factor))
        counted.append(CategoryLine(category, amount, factor or _ONE, covered, rule.deductible_applies))
        if rule.deductible_applies:
            subject_to_deductible += covered
        else:
            free_of_deductible += covered

    # 起付线: consumed by the categories it applies to, up to what is left of this year's.
    deductible = min(subject_to_deductible, max(0, benefits.deductible_fen - deductible_used))
    eligible = subject_to_deductible + free_of_deductible - deductible
    start = eligible_before
    end = start + eligible

    # Tiers on the cumulative eligible amount: the interval (start, end] split at each tier's bound.
    parts: list[TierPart] = []
    raw = _ZERO
    shown_total = 0
    lower = 0
    if eligible:
        for upper, ratio in tiers:
            portion = (end if upper is None else min(upper, end)) - max(lower, start)
            if portion > 0:
                exact = _EXACT.multiply(Decimal(portion), ratio)
                shown = round_half_up(exact)
                parts.append(TierPart(lower, upper, portion, ratio, exact, shown))
                raw = _EXACT.add(raw, exact)
                shown_total += shown
            if upper is None or upper >= end:
                break
            lower = upper
    payout = round_half_up(raw)
    adjustment = payout - shown_total

    # 年度最高赔付限额.
    reduction = 0
    cap = benefits.annual_cap_fen
    if cap is not None:
        room = max(0, cap - paid_before)
        if payout > room:
            reduction = payout - room
            payout = room

    result = BillResult(index, bill.service_date, bill.setting, subject_to_deductible + free_of_deductible,
                        deductible, eligible, payout, None, None, tuple(counted), tuple(excluded), tuple(parts), raw,
                        adjustment, reduction, total, ytd, benefits)
    after = (deductible_used + deductible, end, paid_before + payout)
    return result, after


# ---- wording (the catalogue lives in messages.py) ----------------------------------------------------------------
_M = MESSAGES
_CATEGORY_ZH = {c: _M[f"ESTIMATE_CATEGORY_{c.upper()}"] for c in CATEGORIES}
_SETTING_ZH = {s: _M[f"ESTIMATE_SETTING_{s.upper()}"] for s in SETTINGS}
_EXCLUSION_LINE = {
    "negative_list": _M["ESTIMATE_LINE_NEGATIVE_LIST"],
    "below_catastrophic_deductible": _M["ESTIMATE_LINE_BELOW_CATASTROPHIC"],
    "category_not_covered": _M["ESTIMATE_LINE_CATEGORY_NOT_COVERED"],
}
_PERIOD_ZH = {"policy": (_M["ESTIMATE_PERIOD_POLICY_START"], _M["ESTIMATE_PERIOD_POLICY_END"]),
              "plan": (_M["ESTIMATE_PERIOD_PLAN_START"], _M["ESTIMATE_PERIOD_PLAN_END"])}


@lru_cache(maxsize=256)
def _tier_label(lower: int, upper: int | None) -> str:
    if upper is None:
        return _M["ESTIMATE_TIER_ALL"] if lower == 0 else _M["ESTIMATE_TIER_ABOVE"].format(lower=yuan(lower))
    if lower == 0:
        return _M["ESTIMATE_TIER_UP_TO"].format(upper=yuan(upper))
    return _M["ESTIMATE_TIER_BETWEEN"].format(lower=yuan(lower), upper=yuan(upper))


# ---- the explanation ---------------------------------------------------------------------------------------------
def _explain(r: BillResult) -> tuple[str, ...]:
    """The bill's figures as lines a member understands, each amount in yuan to the fen. The tier lines, the
    rounding line and the cap line add up to the payout line."""
    if r.not_covered is not None:
        return (_M["ESTIMATE_LINE_BILL_NOT_COVERED"].format(reason=r.not_covered_detail, total=yuan(r.total_fen)),
                _M["ESTIMATE_LINE_PAYOUT"].format(payout=yuan(0)))
    benefits = r.benefits
    used_before, eligible_before, paid_before = r.before
    has_deductible = benefits.deductible_fen > 0
    lines: list[str] = []
    # Categories in the plan's fixed order, excluded ones where they fall.
    by_category = {c.category: c for c in r.counted}
    excluded = {e.category: e for e in r.excluded}
    for category in CATEGORIES:
        if category in excluded:
            e = excluded[category]
            lines.append(_EXCLUSION_LINE[e.reason].format(label=_CATEGORY_ZH[category], amount=yuan(e.amount_fen)))
        elif category in by_category:
            c = by_category[category]
            suffix = _M["ESTIMATE_DEDUCTIBLE_APPLIES"] if c.deductible_applies and has_deductible else \
                _M["ESTIMATE_NO_DEDUCTIBLE"]
            if c.factor == _ONE:
                lines.append(_M["ESTIMATE_LINE_COUNTED"].format(label=_CATEGORY_ZH[category],
                                                                amount=yuan(c.amount_fen), suffix=suffix))
            else:
                lines.append(_M["ESTIMATE_LINE_COUNTED_FACTOR"].format(
                    label=_CATEGORY_ZH[category], amount=yuan(c.amount_fen), factor=percent(c.factor),
                    covered=yuan(c.covered_fen), suffix=suffix))
    subject = sum(c.covered_fen for c in r.counted if c.deductible_applies)
    if has_deductible and subject:
        left_before = max(0, benefits.deductible_fen - used_before)
        if left_before == 0:
            lines.append(_M["ESTIMATE_LINE_DEDUCTIBLE_ALREADY_MET"].format(deductible=yuan(benefits.deductible_fen)))
        elif r.deductible_applied_fen == left_before:
            lines.append(_M["ESTIMATE_LINE_DEDUCTIBLE_MET"].format(used=yuan(r.deductible_applied_fen)))
        else:
            lines.append(_M["ESTIMATE_LINE_DEDUCTIBLE_LEFT"].format(
                used=yuan(r.deductible_applied_fen), left=yuan(left_before - r.deductible_applied_fen)))
    if r.covered_fen:
        if not r.eligible_fen:
            lines.append(_M["ESTIMATE_LINE_NOTHING_ABOVE_DEDUCTIBLE"])
        else:
            template = _M["ESTIMATE_LINE_ELIGIBLE" if r.deductible_applied_fen else "ESTIMATE_LINE_ELIGIBLE_NO_DEDUCTIBLE"]
            lines.append(template.format(eligible=yuan(r.eligible_fen), cumulative=yuan(eligible_before + r.eligible_fen)))
    for part in r.tiers:
        lines.append(_M["ESTIMATE_LINE_TIER"].format(tier=_tier_label(part.from_fen, part.to_fen),
                                                     amount=yuan(part.amount_fen), ratio=percent(part.ratio),
                                                     paid=yuan(part.shown_fen)))
    before_cap = r.payout_fen + r.cap_reduction_fen
    if r.rounding_adjustment_fen:
        lines.append(_M["ESTIMATE_LINE_ROUNDING"].format(adjustment=yuan(r.rounding_adjustment_fen),
                                                         payout=yuan(before_cap)))
    if r.cap_reduction_fen:
        lines.append(_M["ESTIMATE_LINE_CAP"].format(cap=yuan(benefits.annual_cap_fen or 0),
                                                    paid_before=yuan(paid_before),
                                                    before=yuan(before_cap), payout=yuan(r.payout_fen)))
    lines.append(_M["ESTIMATE_LINE_PAYOUT"].format(payout=yuan(r.payout_fen)))
    return tuple(lines)
