"""Properties of the benefit engine (DOMAIN §5) over real plans and plans hypothesis makes up."""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.benefits import Bill, YearToDate, compute
from chalicelib.domain.plan import CATEGORIES, SETTINGS, Benefits
from chalicelib.plans import get_plan

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
MAX_FEN = 1_000_000_000_000
DAY0 = date(2021, 1, 1)

ratios = st.integers(0, 1000).map(lambda n: Decimal(n) / 1000)
factors = st.sampled_from([Decimal(1), Decimal("0.5"), Decimal("0.3"), Decimal("0.75"), Decimal("0.333")])


@st.composite
def benefits(draw) -> Benefits:
    """A real plan, or any plan the plan model accepts."""
    if draw(st.booleans()):
        return get_plan(draw(st.sampled_from(["lishui-2021", "lishui-2022", "dengfeng-2018", "dengfeng-2019"]))).benefits
    bounds = sorted(draw(st.sets(st.integers(1, 200_000_000), max_size=3)))
    tiers = [{"up_to_fen": b, "ratio": draw(ratios)} for b in bounds] + [{"up_to_fen": None, "ratio": draw(ratios)}]
    categories = {c: {"covered": c != "negative_list" and draw(st.booleans()),
                      "deductible_applies": draw(st.booleans()), "factor": draw(factors)} for c in CATEGORIES}
    return Benefits.model_validate({
        "settings_covered": draw(st.lists(st.sampled_from(SETTINGS), min_size=1, max_size=3, unique=True)),
        "categories": categories,
        "deductible_fen": draw(st.integers(0, 5_000_000)),
        "tiers": tiers,
        "annual_cap_fen": draw(st.one_of(st.none(), st.integers(0, 50_000_000))),
    })


fen = st.one_of(st.integers(0, 5_000_000), st.integers(0, MAX_FEN))
amounts = st.dictionaries(st.sampled_from(CATEGORIES), fen, max_size=len(CATEGORIES))
bills = st.builds(Bill, service_date=st.integers(0, 364).map(lambda d: DAY0 + timedelta(days=d)),
                  setting=st.sampled_from(SETTINGS), amounts=amounts)


@st.composite
def year_to_date(draw, plan: Benefits) -> YearToDate:
    """A state the year could really be in: the deductible and the cap not overrun."""
    cap = plan.annual_cap_fen
    return YearToDate(deductible_used_fen=draw(st.integers(0, plan.deductible_fen)),
                      eligible_fen=draw(st.integers(0, 300_000_000)),
                      paid_fen=draw(st.integers(0, cap if cap is not None else 200_000_000)))


@st.composite
def scenario(draw, max_bills: int = 5):
    plan = draw(benefits())
    return plan, draw(year_to_date(plan)), draw(st.lists(bills, min_size=1, max_size=max_bills))


@PROPERTY
@given(scenario())
def test_payout_never_exceeds_the_covered_amount(case):
    plan, ytd, bs = case
    for bill in compute(plan, ytd, bs).bills:
        assert 0 <= bill.payout_fen <= bill.eligible_fen <= bill.covered_fen <= bs[bill.index].total_fen()


@PROPERTY
@given(scenario(max_bills=1), st.sampled_from(CATEGORIES), st.integers(1, 10_000_000))
def test_payout_never_decreases_when_a_bill_grows(case, category, more):
    plan, ytd, (bill,) = case
    grown = Bill(bill.service_date, bill.setting, {**bill.amounts, category: bill.amounts.get(category, 0) + more})
    assert compute(plan, ytd, [grown]).payout_fen >= compute(plan, ytd, [bill]).payout_fen


@PROPERTY
@given(scenario())
def test_deductible_used_never_exceeds_the_plans(case):
    plan, ytd, bs = case
    est = compute(plan, ytd, bs)
    assert est.year_to_date_after.deductible_used_fen <= plan.deductible_fen
    assert sum(b.deductible_applied_fen for b in est.bills) == \
        est.year_to_date_after.deductible_used_fen - ytd.deductible_used_fen


@PROPERTY
@given(scenario())
def test_the_cap_is_never_exceeded(case):
    plan, ytd, bs = case
    est = compute(plan, ytd, bs)
    if plan.annual_cap_fen is not None:
        assert est.year_to_date_after.paid_fen <= plan.annual_cap_fen
    assert est.year_to_date_after.paid_fen == ytd.paid_fen + est.payout_fen


@PROPERTY
@given(scenario(max_bills=1), st.data())
def test_splitting_a_bill_in_two_on_the_same_day_moves_the_total_by_at_most_a_fen_per_bill(case, data):
    plan, ytd, (bill,) = case
    first = {c: data.draw(st.integers(0, a)) for c, a in bill.amounts.items()}
    second = {c: a - first[c] for c, a in bill.amounts.items()}
    whole = compute(plan, ytd, [bill]).payout_fen
    split = compute(plan, ytd, [Bill(bill.service_date, bill.setting, first),
                                Bill(bill.service_date, bill.setting, second)]).payout_fen
    assert abs(split - whole) <= 2


@PROPERTY
@given(scenario())
def test_year_to_date_after_is_the_sum_of_the_bills(case):
    plan, ytd, bs = case
    est = compute(plan, ytd, bs)
    assert est.year_to_date_after.eligible_fen == ytd.eligible_fen + sum(b.eligible_fen for b in est.bills)
    assert est.payout_fen == sum(b.payout_fen for b in est.bills)


def _fen(text: str) -> int:
    negative = text.startswith("-")
    whole, cents = text.lstrip("-").replace(",", "").split(".")
    value = int(whole) * 100 + int(cents)
    return -value if negative else value


@PROPERTY
@given(scenario())
def test_the_explanations_figures_add_up_to_the_payout(case):
    plan, ytd, bs = case
    for bill in compute(plan, ytd, bs).bills:
        lines = bill.explanation
        assert lines[-1] == f"本次预计赔付 {_fen_text(bill.payout_fen)} 元"
        tiers = [_fen(m) for line in lines for m in re.findall(r" = ([-\d,.]+) 元$", line)]
        rounding = [_fen(m) for line in lines for m in re.findall(r"尾差调整 ([-\d,.]+) 元", line)]
        capped = [(_fen(a), _fen(b)) for line in lines for a, b in re.findall(r"由 ([-\d,.]+) 元调整为 ([-\d,.]+) 元", line)]
        before_cap = sum(tiers) + sum(rounding)
        if capped:
            assert capped == [(before_cap, bill.payout_fen)]
        else:
            assert before_cap == bill.payout_fen
        # the same figures as data
        assert sum(t.shown_fen for t in bill.tiers) + bill.rounding_adjustment_fen - bill.cap_reduction_fen == \
            bill.payout_fen


def _fen_text(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"
