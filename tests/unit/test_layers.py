"""The raw-bill chain (DOMAIN §12): basic → 大病 → 惠民保, worked examples computed by hand.

The city parameters here are the test's own (the shipped ones are illustrative and may be replaced by published
figures); the 惠民保 rules are the real plans'. Amounts in fen.

Test city, 城乡居民 (resident): basic per admission — level 1: 300 yuan, 85%; level 2: 600, 75%; level 3: 1 000, 65%;
outpatient once a year (level 2: 200 yuan, 45%); annual cap 250 000 yuan. 职工 (employee): once a year, 800 yuan,
inpatient 90/85/80%; outpatient 1 000 yuan, 80/70/60%; cap 300 000. 大病 (both): deductible 16 750 yuan; 60% to
50 000 above it, 65% to 100 000, 70% beyond; no cap — the 阜新 (002 §三) shape.
"""
from __future__ import annotations

import copy
from datetime import date

import pytest

from chalicelib.domain.benefits import Bill, YearToDate, compute
from chalicelib.domain.city_insurance import CityInsuranceError
from chalicelib.domain.layers import LayersYearToDate, RawBill, estimate_with_layers, raw_bill_problem, simulate_layers
from chalicelib.plans import get_plan
from chalicelib.plans.cities import all_cities, parse_city


def _rates(rows):
    return [{"setting": s, "hospital_level": lvl, "deductible_fen": ded, "deductible_per": per, "ratio": ratio}
            for s, per, levels in rows for lvl, (ded, ratio) in zip((1, 2, 3), levels, strict=True)]


BANDS = [{"up_to_fen": 5_000_000, "ratio": "0.60"}, {"up_to_fen": 10_000_000, "ratio": "0.65"},
         {"up_to_fen": None, "ratio": "0.70"}]
CITY_DATA = {
    "city": "331100", "city_name": "丽水市",
    "basic": [
        {"basic_type": "resident", "source": "test figures", "cap_fen": 25_000_000, "rates": _rates([
            ("inpatient", "admission", [(30_000, "0.85"), (60_000, "0.75"), (100_000, "0.65")]),
            ("special_outpatient", "admission", [(30_000, "0.85"), (60_000, "0.75"), (100_000, "0.65")]),
            ("outpatient", "year", [(0, "0.55"), (20_000, "0.45"), (50_000, "0.35")])])},
        {"basic_type": "employee", "source": "test figures", "cap_fen": 30_000_000, "rates": _rates([
            ("inpatient", "year", [(80_000, "0.90"), (80_000, "0.85"), (80_000, "0.80")]),
            ("special_outpatient", "year", [(80_000, "0.90"), (80_000, "0.85"), (80_000, "0.80")]),
            ("outpatient", "year", [(100_000, "0.80"), (100_000, "0.70"), (100_000, "0.60")])])},
    ],
    "catastrophic": [{"basic_type": t, "source": "test figures", "deductible_fen": 1_675_000, "bands": BANDS,
                      "cap_fen": None} for t in ("resident", "employee")],
}
CITY = parse_city(CITY_DATA)
LISHUI = get_plan("lishui-2021").benefits
DAY = date(2021, 5, 1)


def raw(basic_type="resident", level=2, setting="inpatient", day=DAY, **amounts) -> RawBill:
    return RawBill(day, setting, level, basic_type, **amounts)


def chain(*bills, ytd=YearToDate(), layers=LayersYearToDate(), benefits=LISHUI, city=CITY):
    return estimate_with_layers(benefits, ytd, city, layers, list(bills))


def figures(b):
    lr = b.layers
    return (lr.basic_deductible_fen, lr.basic_paid_fen, lr.catastrophic_deductible_fen, lr.catastrophic_paid_fen,
            b.huiminbao.payout_fen, b.member_pays_fen)


# ---- worked examples -----------------------------------------------------------------------------------------------
def test_small_bill_stays_under_the_catastrophic_deductible():
    # in-policy 1 900.00; basic: 300 deductible, 1 600 × 85% = 1 360; 540 self-pay, all under the 大病 deductible;
    # 惠民保: self-pay 100 goes to its deductible → 0.
    result = chain(raw(level=1, total_fen=200_000, self_pay_fen=10_000))
    bill = result.layered[0]
    assert figures(bill) == (30_000, 136_000, 54_000, 0, 0, 64_000)
    assert bill.layers.slip["in_policy_below_catastrophic"] == 54_000
    assert bill.layers.slip["in_policy_after_catastrophic"] == 0
    assert result.layers_after == LayersYearToDate(0, 136_000, 54_000, 0)  # a per-admission deductible is not carried


def test_a_yearly_basic_deductible_partly_used_takes_only_what_is_left():
    # employee outpatient level 1: 1 000 a year, 600 used; 400 now, 1 100 × 80% = 880.
    result = chain(raw("employee", 1, "outpatient", total_fen=150_000),
                   layers=LayersYearToDate(basic_deductible_used_fen=60_000))
    assert figures(result.layered[0]) == (40_000, 88_000, 62_000, 0, 0, 62_000)
    assert result.layers_after.basic_deductible_used_fen == 100_000


def test_a_bill_under_the_basic_deductible_pays_no_basic():
    result = chain(raw("employee", 1, "outpatient", total_fen=30_000),
                   layers=LayersYearToDate(basic_deductible_used_fen=60_000))
    assert figures(result.layered[0]) == (30_000, 0, 30_000, 0, 0, 30_000)
    assert "政策范围内费用没有超过起付线,基本医保不报销" in result.layered[0].explanation


def test_band_crossing_bill_pays_each_band_at_its_ratio():
    # level 3: 1 000 deductible, 199 000 × 65% = 129 350 basic; self-pay 70 650 added to 10 000 already counted:
    # 6 750 fills the 大病 deductible, then 50 000 × 60% + 13 900 × 65% = 39 035; after 大病 24 865 × 75% = 18 648.75.
    result = chain(raw(level=3, total_fen=20_000_000), layers=LayersYearToDate(catastrophic_base_fen=1_000_000))
    bill = result.layered[0]
    assert figures(bill) == (100_000, 12_935_000, 675_000, 3_903_500, 1_864_875, 1_296_625)
    assert [(p.from_fen, p.to_fen, p.amount_fen, p.shown_fen) for p in bill.layers.bands] == [
        (0, 5_000_000, 5_000_000, 3_000_000), (5_000_000, 10_000_000, 1_390_000, 903_500)]
    lines = bill.explanation
    assert "本次累计超过了大病保险起付线:其中 6,750.00 元在起付线以下,超过起付线的 63,900.00 元由大病保险按段报销" in lines
    assert "超过起付线累计 0 至 50,000.00 元的部分:50,000.00 元 × 60% = 30,000.00 元" in lines
    assert "超过起付线累计 50,000.00 至 100,000.00 元的部分:13,900.00 元 × 65% = 9,035.00 元" in lines


def test_large_bill_meets_the_basic_cap_and_reaches_the_top_band():
    # basic would pay 499 000 × 65% = 324 350 but only 50 000 of the 250 000 cap is left; 450 000 self-pay:
    # 16 750 deductible, 30 000 + 32 500 + 333 250 × 70% = 295 775 大病; 137 475 × 75% = 103 106.25 惠民保.
    result = chain(raw(level=3, total_fen=50_000_000), layers=LayersYearToDate(basic_paid_fen=20_000_000))
    bill = result.layered[0]
    assert figures(bill) == (100_000, 5_000_000, 1_675_000, 29_577_500, 10_310_625, 5_111_875)
    assert bill.layers.basic_cap_reduction_fen == 27_435_000
    assert [str(p.ratio) for p in bill.layers.bands] == ["0.60", "0.65", "0.70"]
    assert [p.amount_fen for p in bill.layers.bands] == [5_000_000, 5_000_000, 33_325_000]
    assert any(line.startswith("基本医保年度最高支付 250,000.00 元(本年度此前已支付 200,000.00 元)")
               for line in bill.explanation)


def test_two_bills_carry_the_year_to_date_across_bills_and_layers():
    # Given in reverse order; computed by service date. March: 800 deductible (the year's), 9 200 × 85% = 7 820;
    # 2 180 self-pay towards 大病. June: no deductible left, 85 000 basic; 15 000 self-pay: 14 570 completes the 大病
    # deductible, 430 × 60% = 258 大病; 172 × 75% = 129 惠民保.
    june = raw("employee", day=date(2021, 6, 1), total_fen=10_000_000)
    march = raw("employee", day=date(2021, 3, 1), total_fen=1_000_000)
    result = chain(june, march)
    assert figures(result.layered[1]) == (80_000, 782_000, 218_000, 0, 0, 218_000)
    assert figures(result.layered[0]) == (0, 8_500_000, 1_457_000, 25_800, 12_900, 1_461_300)
    assert result.layers_after == LayersYearToDate(80_000, 9_282_000, 1_718_000, 25_800)
    assert result.estimate.year_to_date_after == YearToDate(0, 17_200, 12_900)


def test_negative_list_inside_self_pay_is_never_paid_and_the_admission_list_is():
    # in-policy 5 000: 600 deductible, 4 400 × 75% = 3 300; 1 700 under the 大病 deductible. 惠民保: self-pay
    # 25 000 − 5 000 negative − 3 000 admission = 17 000, + 3 000 admission = 20 000; 18 000 deductible; 2 000 × 75%.
    result = chain(raw(total_fen=3_000_000, self_pay_fen=2_500_000, negative_list_fen=500_000,
                       admission_list_fen=300_000))
    bill = result.layered[0]
    assert figures(bill) == (60_000, 330_000, 170_000, 0, 150_000, 2_520_000)
    assert bill.layers.slip == {"in_policy_after_catastrophic": 0, "in_policy_below_catastrophic": 170_000,
                                "class_b_prepay": 0, "restricted": 0, "self_pay": 1_700_000,
                                "admission_list": 300_000, "transfer_out": 0, "negative_list": 500_000}
    assert "负面清单内费用 5,000.00 元不予报销" in bill.explanation


def test_transfer_out_counts_half_for_huiminbao_and_nothing_for_basic():
    # in-policy 59 999.99: 1 000 deductible, 58 999.99 × 65% = 38 349.9935 → 38 349.99 (half up, once); 21 650.00
    # self-pay: 16 750 deductible, 4 900 × 60% = 2 940; 惠民保: 1 960 after 大病 (no deductible) + 40 000.01 × 50% =
    # 20 000.005 → 20 000.01, 18 000 deductible; 3 960.01 × 75% = 2 970.0075 → 2 970.01.
    result = chain(raw(level=3, total_fen=10_000_000, transfer_out_fen=4_000_001))
    assert figures(result.layered[0]) == (100_000, 3_834_999, 1_675_000, 294_000, 297_001, 5_574_000)


def test_a_slip_bill_beside_raw_bills_changes_no_layer_state_but_shares_the_huiminbao_year():
    slip = Bill(date(2021, 4, 1), "inpatient", {"self_pay": 2_000_000})  # 18 000 deductible, 2 000 × 75%
    result = chain(slip, raw(total_fen=3_000_000, self_pay_fen=2_500_000, negative_list_fen=500_000,
                             admission_list_fen=300_000))
    assert result.layered[0] is None
    assert result.estimate.bills[0].payout_fen == 150_000
    # the raw bill now finds the 惠民保 deductible used up: 20 000 × 75% = 15 000
    assert result.layered[1].huiminbao.payout_fen == 1_500_000
    assert result.layers_after == LayersYearToDate(0, 330_000, 170_000, 0)


def test_catastrophic_cap_limits_what_the_year_can_pay():
    data = copy.deepcopy(CITY_DATA)
    for group in data["catastrophic"]:
        group["cap_fen"] = 4_000_000
    city = parse_city(data)
    result = chain(raw(level=3, total_fen=50_000_000), city=city,
                   layers=LayersYearToDate(catastrophic_base_fen=1_675_000, catastrophic_paid_fen=3_900_000))
    # basic capped at 250 000; 250 000 self-pay all above the deductible: 30 000 + 32 500 + 150 000 × 70% = 167 500,
    # of which the 40 000 cap leaves 1 000.
    lr = result.layered[0].layers
    assert (lr.basic_paid_fen, lr.catastrophic_before_cap_fen, lr.catastrophic_paid_fen) == \
        (25_000_000, 16_750_000, 100_000)
    assert result.layers_after.catastrophic_paid_fen == 4_000_000


def test_dengfeng_bill_through_all_layers_pays_the_plans_deductible_on_both_slip_parts():
    # 登封 covers in-policy self-pay after and below 大病, with a 2 500 deductible, at 100%.
    result = chain(raw(level=2, total_fen=1_000_000), benefits=get_plan("dengfeng-2018").benefits)
    bill = result.layered[0]
    # 600 deductible, 9 400 × 75% = 7 050 basic; 2 950 self-pay under 大病; 惠民保: 2 950 − 2 500 = 450.
    assert figures(bill) == (60_000, 705_000, 295_000, 0, 45_000, 250_000)


def test_the_explanation_says_what_each_layer_paid_and_that_the_slip_decides():
    lines = chain(raw(level=3, total_fen=20_000_000), layers=LayersYearToDate(catastrophic_base_fen=1_000_000)) \
        .layered[0].explanation
    assert lines[0] == "医疗费总额 200,000.00 元,全部是医保政策范围内费用"
    assert "基本医保(城乡居民医保,三级医院住院):起付线 1,000.00 元(每次住院或就诊都要扣),起付线以上的政策范围内费用报销 65%" in lines
    assert "起付线以上的 199,000.00 元 × 65% = 129,350.00 元" in lines
    assert "基本医保支付 129,350.00 元" in lines
    assert "大病保险支付 39,035.00 元" in lines
    assert "累计 0 至 200,000.00 元部分:24,865.00 元 × 75% = 18,648.75 元" in lines
    assert lines[-2] == ("医疗费总额 200,000.00 元 = 基本医保 129,350.00 元 + 大病保险 39,035.00 元 + "
                         "惠民保 18,648.75 元 + 您自付 12,966.25 元")
    assert lines[-1].endswith("实际金额以医保结算单为准")


def test_illustrative_parameters_are_said_to_be_illustrative():
    data = copy.deepcopy(CITY_DATA)
    data["basic"][0] = dict(data["basic"][0], source=None, illustrative=True, basis="modelled on 阜新")
    lines = chain(raw(total_fen=100_000), city=parse_city(data)).layered[0].explanation
    assert "示意参数" in lines[-1]


# ---- bad bills -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bill", "code", "field"), [
    (raw(total_fen=100, self_pay_fen=60, restricted_fen=30, class_b_prepay_fen=10, transfer_out_fen=1),
     "ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "total_fen"),
    (raw(total_fen=1000, self_pay_fen=100, negative_list_fen=60, admission_list_fen=41),
     "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY", "self_pay_fen"),
    (raw(total_fen=-1), "ESTIMATE_RAW_NEGATIVE", "total_fen"),
])
def test_parts_larger_than_their_whole_are_refused(bill, code, field):
    problem = raw_bill_problem(bill)
    assert (problem.code, problem.field) == (code, field)
    with pytest.raises(ValueError, match=code):
        simulate_layers(CITY, LayersYearToDate(), [bill])


def test_parts_exactly_equal_to_the_whole_are_fine():
    assert raw_bill_problem(raw(total_fen=100, self_pay_fen=70, restricted_fen=30, negative_list_fen=40,
                                admission_list_fen=30)) is None


# ---- parameters as data --------------------------------------------------------------------------------------------
def test_every_plans_city_has_parameters_and_every_group_says_where_it_comes_from():
    from chalicelib.plans import all_plans

    cities = all_cities()
    for plan in all_plans().values():
        city = cities[plan.city]
        for basic_type in plan.eligibility.basic_types_admitted:
            assert city.basic_group(basic_type) is not None, (plan.plan_id, basic_type)
        for group in [*city.basic, *city.catastrophic]:
            assert bool(group.source) != group.illustrative
            assert group.source or group.basis


@pytest.mark.parametrize("change", [
    lambda d: d["basic"][0]["rates"].pop(),  # a setting × level missing
    lambda d: d["basic"][0].update(source=None),  # neither source nor illustrative
    lambda d: d["basic"][0].update(illustrative=True),  # both
    lambda d: d["catastrophic"][0].update(bands=[{"up_to_fen": 5_000_000, "ratio": "0.6"}]),  # last band bounded
    lambda d: d["catastrophic"][0]["bands"][0].update(ratio="1.2"),
    lambda d: d["catastrophic"].pop(),  # basic without 大病
    lambda d: d["basic"][0]["rates"][0].update(deductible_per="month"),
])
def test_bad_parameters_are_refused_at_load(change):
    data = copy.deepcopy(CITY_DATA)
    change(data)
    with pytest.raises(CityInsuranceError):
        parse_city(data)


def test_the_slip_path_gives_the_same_huiminbao_figures_as_the_raw_path():
    bills = [raw(level=3, total_fen=20_000_000), raw(total_fen=3_000_000, self_pay_fen=2_500_000,
                                                     negative_list_fen=500_000)]
    result = chain(*bills)
    slips = [Bill(b.layers.bill.service_date, b.layers.bill.setting, b.layers.slip) for b in result.layered]
    again = compute(LISHUI, YearToDate(), slips)
    assert [r.payout_fen for r in again.bills] == [b.huiminbao.payout_fen for b in result.layered]


def test_importing_the_app_loads_no_city_parameters():
    """Estimates are the cold-start-sensitive path: the parameters and the chain load on the first raw estimate."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, app; print(','.join(m for m in ('chalicelib.domain.city_insurance', 'chalicelib.domain.layers',"
            " 'chalicelib.plans.cities') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         env=dict(os.environ, HMB_STAGE="local"), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
