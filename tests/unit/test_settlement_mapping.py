"""DOMAIN §11.2: a national settlement record (2304 output, yuan) → the §5 bill an automatic claim pays."""
from datetime import date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.benefits import Bill, YearToDate, compute
from chalicelib.domain.settlement import (
    ForReview,
    NationalSettlement,
    SettlementMapping,
    SlipBill,
    from_sandbox,
    to_bill,
    yuan_to_fen,
)
from chalicelib.plans import get_plan

# W1 as the platform reports it: 250 000 yuan in all; basic pays 140 000, 大病 30 000 of the 200 000 in-policy;
# 50 000 yuan 全自费; the person bears 80 000 (10 000 from the account, 70 000 in cash).
W1 = dict(setl_id="S-W1", setl_time="2021-05-01T10:00:00+08:00", med_type="21", medfee_sumamt="250000.00",
          fulamt_ownpay_amt="50000.00", overlmt_selfpay="0.00", preselfpay_amt="0.00", inscp_scp_amt="200000.00",
          hifp_pay="140000.00", hifmi_pay="30000.00", hifob_pay="0.00", maf_pay="0.00", psn_part_amt="80000.00",
          acct_pay="10000.00", psn_cash_pay="70000.00")


def _record(**overrides) -> NationalSettlement:
    return NationalSettlement.model_validate(W1 | overrides)


def test_w1_from_the_national_shape_pays_what_domain_5_says():
    bill = to_bill(_record())
    assert isinstance(bill, SlipBill)
    assert bill.setting == "inpatient" and bill.service_date == date(2021, 5, 1)
    assert bill.amounts_fen == {"self_pay": 5_000_000, "in_policy_after_catastrophic": 3_000_000}
    estimate = compute(get_plan("lishui-2021").benefits, YearToDate(),
                       [Bill(bill.service_date, bill.setting, bill.amounts_fen)])
    assert estimate.payout_fen == 4_650_000


def test_without_a_catastrophic_payment_the_in_policy_rest_is_below_the_catastrophic_deductible():
    bill = to_bill(_record(medfee_sumamt="30000.00", fulamt_ownpay_amt="0.00", inscp_scp_amt="30000.00",
                           hifp_pay="22500.00", hifmi_pay="0.00", psn_part_amt="7500.00", acct_pay="0.00",
                           psn_cash_pay="7500.00"))
    assert bill.amounts_fen == {"in_policy_below_catastrophic": 750_000}


def test_the_employee_large_amount_fund_counts_as_catastrophic():
    bill = to_bill(_record(hifmi_pay="0.00", hifob_pay="30000.00"))
    assert bill.amounts_fen["in_policy_after_catastrophic"] == 3_000_000


def test_over_limit_and_prepay_map_to_their_categories():
    bill = to_bill(_record(medfee_sumamt="253000.00", overlmt_selfpay="1000.00", preselfpay_amt="2000.00",
                           psn_part_amt="83000.00", psn_cash_pay="73000.00"))
    assert bill.amounts_fen == {"self_pay": 5_000_000, "restricted": 100_000, "class_b_prepay": 200_000,
                                "in_policy_after_catastrophic": 3_000_000}
    assert set(bill.unplaced) == {"negative_list", "admission_list", "transfer_out"}


def test_medical_assistance_is_not_subtracted_it_comes_last():
    bill = to_bill(_record(maf_pay="5000.00", psn_part_amt="75000.00", psn_cash_pay="65000.00"))
    assert bill.amounts_fen["in_policy_after_catastrophic"] == 3_000_000


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"medfee_sumamt": "250000.01"}, "SETTLEMENT_SUMS_MISMATCH"),
    ({"psn_cash_pay": "69999.99"}, "SETTLEMENT_PERSONAL_PART_MISMATCH"),
    ({"fulamt_ownpay_amt": "49000.00"}, "SETTLEMENT_COMPOSITION_MISMATCH"),
    ({"med_type": "41"}, "SETTLEMENT_MED_TYPE_UNKNOWN"),
    ({"hifp_pay": "180000.00", "hifmi_pay": "30000.00", "psn_part_amt": "40000.00", "psn_cash_pay": "30000.00"},
     "SETTLEMENT_NEGATIVE_IN_POLICY"),
    ({"acct_pay": "10000.001", "psn_cash_pay": "69999.999"}, "SETTLEMENT_AMOUNT_INVALID"),
    ({"hifp_pay": "-1.00"}, "SETTLEMENT_AMOUNT_INVALID"),
])
def test_a_record_that_does_not_add_up_goes_to_review_and_pays_nothing(overrides, reason):
    result = to_bill(_record(**overrides))
    assert isinstance(result, ForReview)
    assert reason in result.reasons
    assert result.settlement_id == "S-W1"


def test_yuan_to_fen_is_exact():
    assert yuan_to_fen(Decimal("0.1")) == 10
    assert yuan_to_fen(Decimal("123456789.99")) == 12_345_678_999
    with pytest.raises(ValueError):
        yuan_to_fen(Decimal("0.005"))
    with pytest.raises(ValueError):
        yuan_to_fen(Decimal("NaN"))


def test_the_mapping_is_a_plan_setting_and_refuses_unknown_fields():
    assert get_plan("lishui-2021").auto_claims.auto_approve_max_fen == 5_000_000
    assert get_plan("dengfeng-2018").auto_claims.auto_approve_max_fen == 0  # every automatic claim reviewed
    with pytest.raises(ValueError):
        SettlementMapping(direct={"no_such_field": "self_pay"})
    with pytest.raises(ValueError):
        SettlementMapping(direct={"fulamt_ownpay_amt": "no_such_category"})


def test_sandbox_records_in_our_categories_pass_through():
    bill = from_sandbox("S1", date(2021, 5, 1), "inpatient", {"self_pay": 5_000_000, "transfer_out": 0,
                                                              "admission_list": 100})
    assert bill.amounts_fen == {"self_pay": 5_000_000, "admission_list": 100}
    assert "admission_list" not in bill.unplaced and "transfer_out" in bill.unplaced


def test_setl_time_with_offset_gives_the_local_service_date():
    bill = to_bill(_record(setl_time=datetime.fromisoformat("2021-05-01T23:30:00+08:00")))
    assert bill.service_date == date(2021, 5, 1)


def test_a_utc_settlement_time_is_dated_in_china():
    bill = to_bill(_record(setl_time=datetime.fromisoformat("2021-04-30T17:30:00+00:00")))
    assert bill.service_date == date(2021, 5, 1)
