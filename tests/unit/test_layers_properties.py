"""Properties of the raw-bill chain (DOMAIN §12) over the shipped city parameters and parameters hypothesis makes up,
with the real plans' 惠民保 rules."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.benefits import Bill, YearToDate, compute
from chalicelib.domain.city_insurance import HOSPITAL_LEVELS, CityInsurance
from chalicelib.domain.layers import LayersYearToDate, RawBill, estimate_with_layers
from chalicelib.domain.plan import SETTINGS
from chalicelib.plans import get_plan
from chalicelib.plans.cities import all_cities, parse_city

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
DAY0 = date(2021, 1, 1)
PLANS = ["lishui-2021", "lishui-2022", "dengfeng-2018", "dengfeng-2019"]
ratios = st.sampled_from(["0", "0.333", "0.5", "0.6", "0.65", "0.7", "0.75", "0.85", "0.9", "1"])
fen = st.one_of(st.integers(0, 2_000_000), st.integers(0, 200_000_000))


@st.composite
def made_up_city(draw) -> CityInsurance:
    def maybe_cap():
        return draw(st.one_of(st.none(), st.integers(0, 50_000_000)))

    rates = [{"setting": s, "hospital_level": lvl, "deductible_fen": draw(st.integers(0, 300_000)),
              "deductible_per": draw(st.sampled_from(["year", "admission"])), "ratio": draw(ratios)}
             for s in SETTINGS for lvl in HOSPITAL_LEVELS]
    bounds = sorted(draw(st.sets(st.integers(1, 30_000_000), max_size=3)))
    bands = [{"up_to_fen": b, "ratio": draw(ratios)} for b in bounds] + [{"up_to_fen": None, "ratio": draw(ratios)}]
    return parse_city({
        "city": "000000", "city_name": "测试市",
        "basic": [{"basic_type": "resident", "illustrative": True, "basis": "made up", "cap_fen": maybe_cap(),
                   "rates": rates}],
        "catastrophic": [{"basic_type": "resident", "illustrative": True, "basis": "made up",
                          "deductible_fen": draw(st.integers(0, 3_000_000)), "bands": bands, "cap_fen": maybe_cap()}],
    })


@st.composite
def raw_bills(draw) -> RawBill:
    self_pay = draw(fen)
    negative = draw(st.integers(0, self_pay))
    admission = draw(st.integers(0, self_pay - negative))
    parts = {"self_pay_fen": self_pay, "restricted_fen": draw(fen), "class_b_prepay_fen": draw(fen),
             "transfer_out_fen": draw(fen)}
    total = sum(parts.values()) + draw(fen)  # + the in-policy part
    return RawBill(DAY0 + timedelta(days=draw(st.integers(0, 364))), draw(st.sampled_from(SETTINGS)),
                   draw(st.sampled_from(HOSPITAL_LEVELS)), "resident", total_fen=total, negative_list_fen=negative,
                   admission_list_fen=admission, **parts)


@st.composite
def layer_state(draw) -> LayersYearToDate:
    return LayersYearToDate(draw(st.integers(0, 300_000)), draw(st.integers(0, 40_000_000)),
                            draw(st.integers(0, 30_000_000)), draw(st.integers(0, 40_000_000)))


@st.composite
def scenario(draw, max_bills: int = 4):
    plan = get_plan(draw(st.sampled_from(PLANS)))
    city = draw(st.one_of(st.just(all_cities()[plan.city]), made_up_city()))
    bills = draw(st.lists(raw_bills(), min_size=1, max_size=max_bills))
    ytd = YearToDate(draw(st.integers(0, plan.benefits.deductible_fen)), draw(st.integers(0, 300_000_000)),
                     draw(st.integers(0, plan.benefits.annual_cap_fen or 200_000_000)))
    return plan, city, draw(layer_state()), ytd, bills


def _run(plan, city, layers, ytd, bills):
    return estimate_with_layers(plan.benefits, ytd, city, layers, bills)


@PROPERTY
@given(scenario())
def test_layers_never_exceed_the_bill_and_the_member_never_pays_less_than_nothing(s):
    result = _run(*s)
    for b in result.layered:
        lr = b.layers
        assert 0 <= lr.basic_deductible_fen <= lr.in_policy_fen
        assert 0 <= lr.basic_paid_fen <= lr.in_policy_fen - lr.basic_deductible_fen
        assert 0 <= lr.catastrophic_deductible_fen + lr.catastrophic_paid_fen <= lr.catastrophic_base_fen
        assert lr.basic_paid_fen + lr.catastrophic_paid_fen + b.huiminbao.payout_fen <= lr.bill.total_fen
        assert b.member_pays_fen >= 0
        assert sum(lr.slip.values()) == lr.bill.total_fen - lr.basic_paid_fen - lr.catastrophic_paid_fen
        assert min(lr.slip.values()) >= 0


@PROPERTY
@given(scenario(max_bills=1), st.integers(1, 50_000_000), st.booleans())
def test_each_layer_is_monotone_in_the_bill(s, extra, in_policy):
    plan, city, layers, ytd, (bill,) = s
    bigger = replace(bill, total_fen=bill.total_fen + extra,
                     self_pay_fen=bill.self_pay_fen + (0 if in_policy else extra))
    small, large = _run(plan, city, layers, ytd, [bill]).layered[0], _run(plan, city, layers, ytd, [bigger]).layered[0]
    assert large.layers.basic_paid_fen >= small.layers.basic_paid_fen
    assert large.layers.catastrophic_paid_fen >= small.layers.catastrophic_paid_fen
    assert large.huiminbao.payout_fen >= small.huiminbao.payout_fen


@PROPERTY
@given(scenario())
def test_the_slip_path_agrees_when_the_layers_are_fed_back_as_slip_categories(s):
    plan, city, layers, ytd, bills = s
    result = _run(plan, city, layers, ytd, bills)
    slips = [Bill(b.layers.bill.service_date, b.layers.bill.setting, b.layers.slip) for b in result.layered]
    again = compute(plan.benefits, ytd, slips)
    assert [r.payout_fen for r in again.bills] == [b.huiminbao.payout_fen for b in result.layered]
    assert again.year_to_date_after == result.estimate.year_to_date_after


@PROPERTY
@given(scenario())
def test_bills_one_by_one_carrying_the_state_give_the_same_as_all_at_once(s):
    plan, city, layers, ytd, bills = s
    together = _run(plan, city, layers, ytd, bills)
    for i in sorted(range(len(bills)), key=lambda i: bills[i].service_date):
        alone = _run(plan, city, layers, ytd, [bills[i]])
        b = together.layered[i]
        assert (alone.layered[0].layers.basic_paid_fen, alone.layered[0].layers.catastrophic_paid_fen,
                alone.layered[0].huiminbao.payout_fen) == (b.layers.basic_paid_fen, b.layers.catastrophic_paid_fen,
                                                           b.huiminbao.payout_fen)
        layers, ytd = alone.layers_after, alone.estimate.year_to_date_after
    assert (layers, ytd) == (together.layers_after, together.estimate.year_to_date_after)


@PROPERTY
@given(scenario())
def test_the_explanation_is_built_for_every_bill_and_ends_with_the_slip_deciding(s):
    for b in _run(*s).layered:
        assert "结算单为准" in b.explanation[-1]
