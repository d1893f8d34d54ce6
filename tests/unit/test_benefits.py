"""DOMAIN §5: the benefit engine — worked examples W1–W7 verbatim, the rules one by one, and the explanation."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.benefits import (
    BenefitPeriod,
    Bill,
    ExcludedPeriod,
    YearToDate,
    compute,
    percent,
    round_half_up,
    yuan,
)
from chalicelib.plans import get_plan

ZHELIBAO = get_plan("lishui-2021").benefits
DENGFENG = get_plan("dengfeng-2018").benefits
ZERO = YearToDate()
MAY = date(2021, 5, 1)
JAN_2019 = date(2019, 1, 5)


def inpatient(day: date = MAY, **amounts: int) -> Bill:
    return Bill(day, "inpatient", amounts)


# ---- worked examples (DOMAIN §5), each from a zero year-to-date state ---------------------------------------------
def test_w1_zhelibao_deductible_only_on_self_pay():
    est = compute(ZHELIBAO, ZERO, [inpatient(in_policy_after_catastrophic=3_000_000, self_pay=5_000_000)])
    bill = est.bills[0]
    assert (bill.deductible_applied_fen, bill.eligible_fen, bill.payout_fen) == (1_800_000, 6_200_000, 4_650_000)
    assert est.payout_fen == 4_650_000


def test_w2_zhelibao_three_tiers():
    est = compute(ZHELIBAO, ZERO, [inpatient(in_policy_after_catastrophic=15_000_000, class_b_prepay=10_000_000,
                                             self_pay=30_000_000)])
    bill = est.bills[0]
    assert bill.eligible_fen == 53_200_000
    assert [t.shown_fen for t in bill.tiers] == [15_000_000, 25_500_000, 2_880_000]
    assert bill.payout_fen == 43_380_000


def test_w3_zhelibao_transfer_out_half_and_exclusions():
    est = compute(ZHELIBAO, ZERO, [inpatient(transfer_out=4_000_001, negative_list=1_000_000,
                                             in_policy_below_catastrophic=500_000)])
    bill = est.bills[0]
    assert bill.covered_fen == 2_000_001
    assert bill.deductible_applied_fen == 1_800_000
    assert bill.eligible_fen == 200_001
    assert bill.raw_payout == Decimal("150000.75")
    assert bill.payout_fen == 150_001


def test_w4_zhelibao_deductible_spans_two_bills():
    est = compute(ZHELIBAO, ZERO, [inpatient(self_pay=1_000_000), inpatient(date(2021, 6, 1), self_pay=2_000_000)])
    first, second = est.bills
    assert (first.payout_fen, first.deductible_applied_fen) == (0, 1_000_000)
    assert (second.deductible_applied_fen, second.eligible_fen, second.payout_fen) == (800_000, 1_200_000, 900_000)


def test_w5_dengfeng_deductible_then_full_ratio():
    est = compute(DENGFENG, ZERO, [
        inpatient(JAN_2019, in_policy_after_catastrophic=150_000),
        inpatient(JAN_2019, in_policy_after_catastrophic=2_000_000, in_policy_below_catastrophic=300_000),
    ])
    first, second = est.bills
    assert first.payout_fen == 0
    assert (second.deductible_applied_fen, second.eligible_fen, second.payout_fen) == (100_000, 2_200_000, 2_200_000)


def test_w6_dengfeng_annual_cap():
    est = compute(DENGFENG, ZERO, [inpatient(JAN_2019, in_policy_after_catastrophic=30_000_000)])
    bill = est.bills[0]
    assert bill.eligible_fen == 29_750_000
    assert bill.payout_fen == 20_000_000
    assert bill.cap_reduction_fen == 9_750_000


def test_w7_dengfeng_outpatient_not_covered():
    est = compute(DENGFENG, ZERO, [Bill(JAN_2019, "outpatient", {"in_policy_after_catastrophic": 500_000})])
    bill = est.bills[0]
    assert bill.payout_fen == 0
    assert bill.not_covered == "setting_not_covered"
    assert est.year_to_date_after == ZERO


# ---- the rules ---------------------------------------------------------------------------------------------------
def test_bills_are_computed_in_service_date_order_and_returned_in_request_order():
    later, earlier = inpatient(date(2021, 6, 1), self_pay=2_000_000), inpatient(date(2021, 5, 1), self_pay=1_000_000)
    est = compute(ZHELIBAO, ZERO, [later, earlier])
    assert [b.index for b in est.bills] == [0, 1]
    assert [b.service_date for b in est.bills] == [date(2021, 6, 1), date(2021, 5, 1)]
    # the earlier bill consumed the deductible first (W4 in reverse request order)
    assert est.bills[1].deductible_applied_fen == 1_000_000
    assert est.bills[0].payout_fen == 900_000


def test_equal_service_dates_keep_request_order():
    est = compute(ZHELIBAO, ZERO, [inpatient(self_pay=2_000_000), inpatient(self_pay=1_000_000)])
    assert est.bills[0].deductible_applied_fen == 1_800_000
    assert est.bills[1].deductible_applied_fen == 0


def test_year_to_date_state_carries_deductible_eligible_and_paid():
    ytd = YearToDate(deductible_used_fen=1_800_000, eligible_fen=19_000_000, paid_fen=14_250_000)
    est = compute(ZHELIBAO, ytd, [inpatient(self_pay=2_000_000)])
    bill = est.bills[0]
    assert bill.deductible_applied_fen == 0
    # cumulative 19,000,000 → 21,000,000 crosses the 20,000,000 tier bound
    assert [(t.amount_fen, t.ratio) for t in bill.tiers] == [(1_000_000, Decimal("0.75")),
                                                              (1_000_000, Decimal("0.85"))]
    assert bill.payout_fen == 750_000 + 850_000
    assert est.year_to_date_after == YearToDate(1_800_000, 21_000_000, 14_250_000 + 1_600_000)


def test_cap_pays_what_is_left_of_the_year_then_nothing():
    ytd = YearToDate(deductible_used_fen=250_000, eligible_fen=19_000_000, paid_fen=19_000_000)
    est = compute(DENGFENG, ytd, [inpatient(JAN_2019, in_policy_after_catastrophic=5_000_000),
                                  inpatient(date(2019, 2, 1), in_policy_after_catastrophic=5_000_000)])
    assert [b.payout_fen for b in est.bills] == [1_000_000, 0]
    assert est.year_to_date_after.paid_fen == 20_000_000


def test_bill_before_benefit_start_pays_nothing_and_changes_nothing():
    period = BenefitPeriod(date(2021, 7, 16), date(2021, 12, 31))
    est = compute(ZHELIBAO, ZERO, [inpatient(date(2021, 7, 15), self_pay=3_000_000)], period)
    assert est.bills[0].not_covered == "before_benefit_start"
    assert est.bills[0].payout_fen == 0
    assert est.year_to_date_after == ZERO


def test_bill_on_the_benefit_start_and_end_days_is_covered():
    period = (date(2021, 7, 16), date(2021, 12, 31))
    est = compute(ZHELIBAO, ZERO, [inpatient(date(2021, 7, 16), in_policy_after_catastrophic=100),
                                   inpatient(date(2021, 12, 31), in_policy_after_catastrophic=100)], period)
    assert [b.payout_fen for b in est.bills] == [75, 75]


def test_bill_after_coverage_end_is_not_covered():
    period = BenefitPeriod(date(2021, 1, 1), date(2021, 12, 31))
    est = compute(ZHELIBAO, ZERO, [inpatient(date(2022, 1, 1), self_pay=3_000_000)], period)
    assert est.bills[0].not_covered == "after_benefit_end"


def test_bill_inside_a_basic_insurance_suspension_is_not_covered():
    suspended = ExcludedPeriod(date(2021, 3, 1), date(2021, 4, 30), "基本医疗保险中断(欠缴或停保)期间")
    est = compute(ZHELIBAO, ZERO, [inpatient(date(2021, 4, 30), in_policy_after_catastrophic=100),
                                   inpatient(date(2021, 5, 1), in_policy_after_catastrophic=100)],
                  excluded_periods=[suspended])
    assert est.bills[0].not_covered == "excluded_period"
    assert [b.payout_fen for b in est.bills] == [0, 75]
    assert "2021-03-01 至 2021-04-30" in est.bills[0].explanation[0]


def test_open_suspension_excludes_every_later_date():
    suspended = ExcludedPeriod(date(2021, 3, 1), None, "基本医疗保险中断(欠缴或停保)期间")
    est = compute(ZHELIBAO, ZERO, [inpatient(date(2021, 12, 1), in_policy_after_catastrophic=100)],
                  excluded_periods=[suspended])
    assert est.bills[0].payout_fen == 0
    assert "至 目前" in est.bills[0].explanation[0]


def test_factor_is_rounded_half_up_per_category():
    est = compute(ZHELIBAO, YearToDate(deductible_used_fen=1_800_000), [inpatient(transfer_out=3)])
    assert est.bills[0].covered_fen == 2  # 1.5 → 2


def test_zero_bill_pays_nothing_and_explains_it():
    est = compute(ZHELIBAO, ZERO, [inpatient()])
    assert est.bills[0].payout_fen == 0
    assert est.bills[0].explanation == ("本次预计赔付 0.00 元",)


def test_inputs_the_api_never_lets_through_are_refused():
    with pytest.raises(ValueError):
        compute(ZHELIBAO, ZERO, [inpatient(self_pay=-1)])
    with pytest.raises(ValueError):
        compute(ZHELIBAO, ZERO, [inpatient(dental=100)])
    with pytest.raises(ValueError):
        compute(ZHELIBAO, ZERO, [Bill(MAY, "dental", {})])
    with pytest.raises(ValueError):
        YearToDate(deductible_used_fen=-1)


def test_inputs_are_not_mutated():
    amounts = {"self_pay": 5_000_000}
    ytd = YearToDate()
    compute(ZHELIBAO, ytd, [Bill(MAY, "inpatient", amounts)])
    assert amounts == {"self_pay": 5_000_000}
    assert ytd == YearToDate()


# ---- formatting ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fen, text", [(0, "0.00"), (5, "0.05"), (100, "1.00"), (1_800_000, "18,000.00"),
                                       (4_000_001, "40,000.01"), (123_456_789_012, "1,234,567,890.12"),
                                       (-1, "-0.01")])
def test_yuan_to_the_fen(fen, text):
    assert yuan(fen) == text


def test_percent_and_rounding():
    assert percent(Decimal("0.75")) == "75%"
    assert percent(Decimal(1)) == "100%"
    assert percent(Decimal("0.855")) == "85.5%"
    assert round_half_up(Decimal("0.5")) == 1
    assert round_half_up(Decimal("150000.75")) == 150_001
    assert round_half_up(Decimal("2.49")) == 2


# ---- the explanation -------------------------------------------------------------------------------------------------
def test_w1_explanation_reads_like_the_rule():
    bill = compute(ZHELIBAO, ZERO, [inpatient(in_policy_after_catastrophic=3_000_000, self_pay=5_000_000)]).bills[0]
    assert bill.explanation == (
        "经基本医保和大病保险报销后的合规自负费用 30,000.00 元计入报销范围,不设起付线",
        "自费药品和材料费用(负面清单外) 50,000.00 元计入报销范围,先扣除起付线",
        "本次使用起付线 18,000.00 元,本年度起付线已用满",
        "扣除起付线后可报销金额 62,000.00 元,本年度累计可报销金额 62,000.00 元",
        "累计 0 至 200,000.00 元部分:62,000.00 元 × 75% = 46,500.00 元",
        "本次预计赔付 46,500.00 元",
    )


def test_w3_explanation_names_each_exclusion_and_the_factor():
    text = "\n".join(compute(ZHELIBAO, ZERO, [inpatient(transfer_out=4_000_001, negative_list=1_000_000,
                                                        in_policy_below_catastrophic=500_000)]).bills[0].explanation)
    assert "负面清单内费用 10,000.00 元不予报销" in text
    assert "大病保险起付线以下的合规费用 5,000.00 元不在本方案报销范围" in text
    assert "转外自理费用 40,000.01 元按 50% 计入,为 20,000.01 元" in text
    assert "本次预计赔付 1,500.01 元" in text


def test_explanation_says_how_much_deductible_is_left():
    text = compute(ZHELIBAO, ZERO, [inpatient(self_pay=1_000_000)]).bills[0].explanation
    assert "本次使用起付线 10,000.00 元,本年度起付线还剩 8,000.00 元" in text


def test_explanation_says_when_the_deductible_was_already_met():
    text = compute(ZHELIBAO, YearToDate(deductible_used_fen=1_800_000), [inpatient(self_pay=100)]).bills[0].explanation
    assert "本年度起付线 18,000.00 元此前已用满,本次不再扣除" in text


def test_explanation_of_the_cap():
    text = compute(DENGFENG, ZERO, [inpatient(JAN_2019, in_policy_after_catastrophic=30_000_000)]).bills[0].explanation
    assert "年度最高赔付限额 200,000.00 元(本年度此前已赔付 0.00 元),本次赔付由 297,500.00 元调整为 200,000.00 元" \
        in text


def test_explanation_of_a_bill_before_benefit_start():
    period = BenefitPeriod(date(2021, 1, 1), date(2021, 12, 31))
    bill = compute(ZHELIBAO, ZERO, [inpatient(date(2020, 12, 20), self_pay=100)], period).bills[0]
    assert bill.explanation[0] == "就诊日期 2020-12-20 早于本保单待遇开始日 2021-01-01,本次费用 1.00 元不予报销"


def test_explanation_of_a_setting_not_covered():
    bill = compute(DENGFENG, ZERO, [Bill(JAN_2019, "outpatient", {"in_policy_after_catastrophic": 500_000})]).bills[0]
    assert bill.explanation[0] == "本方案只保障住院,普通门诊(含慢病门诊)费用不在保障范围内,本次费用 5,000.00 元不予报销"


def _amount(text: str) -> int:
    """'1,500.01' → 150001."""
    whole, cents = text.replace(",", "").split(".")
    return int(whole) * 100 + int(cents) * (-1 if whole.startswith("-") else 1)


def test_explanation_figures_add_up_when_tiers_round_separately():
    # cumulative 19,999,999 → 20,000,001: 1 fen × 75% = 0.75 → 1 shown; 1 fen × 85% = 0.85 → 1 shown; raw 1.6 → 2
    ytd = YearToDate(deductible_used_fen=1_800_000, eligible_fen=19_999_999)
    bill = compute(ZHELIBAO, ytd, [inpatient(self_pay=2)]).bills[0]
    assert len(bill.tiers) == 2
    lines = bill.explanation
    tier_paid = [_amount(m) for line in lines for m in re.findall(r"= ([\d,.-]+) 元", line)]
    adjustment = [_amount(m) for line in lines for m in re.findall(r"尾差调整 ([\d,.-]+) 元", line)]
    assert sum(tier_paid) + sum(adjustment) == bill.payout_fen


def test_rounding_line_appears_when_per_tier_rounding_disagrees_with_the_total():
    # tiers 0.75 and 0.85 on 2 fen either side of 20,000,000 (cumulative 19,999,998 → 20,000,002):
    # 2 × 0.75 = 1.5 → 2 shown; 2 × 0.85 = 1.7 → 2 shown; raw 3.2 → 3: adjustment −1 fen
    ytd = YearToDate(deductible_used_fen=1_800_000, eligible_fen=19_999_998)
    bill = compute(ZHELIBAO, ytd, [inpatient(self_pay=4)]).bills[0]
    assert bill.payout_fen == 3
    assert bill.rounding_adjustment_fen == -1
    assert "各段合计按分四舍五入,尾差调整 -0.01 元,合计 0.03 元" in bill.explanation


def test_explanation_of_a_bill_that_only_uses_up_deductible():
    text = compute(ZHELIBAO, ZERO, [inpatient(self_pay=1_000_000)]).bills[0].explanation
    assert "本次费用未超过起付线,没有可报销金额" in text
    assert text[-1] == "本次预计赔付 0.00 元"


def test_explanation_without_a_deductible_does_not_mention_one():
    text = compute(ZHELIBAO, ZERO, [inpatient(in_policy_after_catastrophic=100_000)]).bills[0].explanation
    assert text[0] == "经基本医保和大病保险报销后的合规自负费用 1,000.00 元计入报销范围,不设起付线"
    assert text[1] == "可报销金额 1,000.00 元,本年度累计可报销金额 1,000.00 元"
