"""Contract of the 医保 platform port: every test runs against the simulator and against HttpPlatform over HTTP.

Given a person registered with the simulator (the bureau's records), when the port is called, then both adapters
answer the same. Administration (register, settlements, faults) goes straight to the simulator: it is the world.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
from chalicelib.domain.platform import Balances, LifeEvent, PlatformPerson, Settlement, SuspensionPeriod
from chalicelib.domain.resident_id import make_test_id

EMPLOYEE_ID = make_test_id("331102", date(1980, 5, 1), 11)
RESIDENT_ID = make_test_id("331121", date(1990, 7, 9), 22, female=True)
UNKNOWN_ID = make_test_id("331102", date(1975, 1, 1), 33)


def employee() -> PlatformPerson:
    return PlatformPerson(
        id_number=EMPLOYEE_ID, name="张三", city="331100", county="331102", basic_type="employee", status="active",
        basic_start=date(2005, 3, 1), restored_on=date(2020, 6, 1),
        suspensions=[SuspensionPeriod(start=date(2019, 1, 1), end=date(2020, 5, 31))],
        special_groups=["低保"], life_events=[LifeEvent(kind="household_moved_in", date=date(2020, 12, 1))])


def resident() -> PlatformPerson:
    return PlatformPerson(id_number=RESIDENT_ID, name="李四", city="331100", basic_type="resident", status="active")


@pytest.fixture()
def people(simulator):
    simulator.register(employee(), current_fen=50_000, prior_years_fen=120_000)
    simulator.register(resident())
    return simulator


# ---- person lookup -------------------------------------------------------------------------------------------
def test_a_registered_person_is_found_with_everything_the_platform_knows(platform, people):
    assert platform.find_person(EMPLOYEE_ID) == employee()


def test_an_unknown_person_is_not_found(platform, people):
    assert platform.find_person(UNKNOWN_ID) is None


# ---- balances --------------------------------------------------------------------------------------------------
def test_balances_report_the_current_year_and_prior_years_separately(platform, people):
    assert platform.balances(EMPLOYEE_ID) == Balances(current_fen=50_000, prior_years_fen=120_000)


def test_a_resident_has_empty_balances(platform, people):
    assert platform.balances(RESIDENT_ID) == Balances(current_fen=0, prior_years_fen=0)


def test_balances_of_an_unknown_person_are_refused(platform, people):
    with pytest.raises(PlatformError) as refused:
        platform.balances(UNKNOWN_ID)
    assert refused.value.code == "PERSON_NOT_FOUND"


# ---- deduction -------------------------------------------------------------------------------------------------
def test_a_deduction_takes_the_amount_from_the_chosen_account(platform, people):
    deduction = platform.deduct(EMPLOYEE_ID, "prior_years", 15_000, "order-0001-pay", "ORDER-0001")

    assert (deduction.id_number, deduction.source, deduction.amount_fen) == (EMPLOYEE_ID, "prior_years", 15_000)
    assert (deduction.idempotency_key, deduction.reference, deduction.status) == ("order-0001-pay", "ORDER-0001",
                                                                                 "done")
    assert deduction.at == datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)
    assert platform.balances(EMPLOYEE_ID) == Balances(current_fen=50_000, prior_years_fen=105_000)


def test_a_deduction_above_the_balance_is_refused_and_moves_nothing(platform, people):
    with pytest.raises(PlatformError) as refused:
        platform.deduct(EMPLOYEE_ID, "current", 50_001, "order-0002-pay", "ORDER-0002")

    assert refused.value.code == "INSUFFICIENT_BALANCE"
    assert platform.balances(EMPLOYEE_ID).current_fen == 50_000
    assert platform.find_deduction("order-0002-pay") is None


def test_a_resident_has_no_personal_account_to_deduct_from(platform, people):
    with pytest.raises(PlatformError) as refused:
        platform.deduct(RESIDENT_ID, "current", 100, "order-0003-pay", "ORDER-0003")
    assert refused.value.code == "NO_PERSONAL_ACCOUNT"


@pytest.mark.parametrize("amount_fen", [0, -100])
def test_a_deduction_of_nothing_or_less_is_refused(platform, people, amount_fen):
    with pytest.raises(PlatformError) as refused:
        platform.deduct(EMPLOYEE_ID, "current", amount_fen, "order-0004-pay", "ORDER-0004")
    assert refused.value.code == "INVALID_AMOUNT"


def test_replaying_a_deduction_key_returns_the_first_deduction_and_deducts_once(platform, people):
    first = platform.deduct(EMPLOYEE_ID, "current", 20_000, "order-0005-pay", "ORDER-0005")
    again = platform.deduct(EMPLOYEE_ID, "current", 20_000, "order-0005-pay", "ORDER-0005")

    assert again == first
    assert platform.balances(EMPLOYEE_ID).current_fen == 30_000


def test_reusing_a_deduction_key_for_another_amount_is_refused(platform, people):
    platform.deduct(EMPLOYEE_ID, "current", 20_000, "order-0006-pay", "ORDER-0006")

    with pytest.raises(PlatformError) as refused:
        platform.deduct(EMPLOYEE_ID, "current", 25_000, "order-0006-pay", "ORDER-0006")

    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert platform.balances(EMPLOYEE_ID).current_fen == 30_000


def test_a_deduction_is_found_by_its_idempotency_key(platform, people):
    made = platform.deduct(EMPLOYEE_ID, "current", 1_000, "order-0007-pay", "ORDER-0007")

    assert platform.find_deduction("order-0007-pay") == made
    assert platform.find_deduction("never-used-key") is None


def test_a_timeout_after_the_deduction_leaves_it_findable_by_key(platform, people):
    people.fail_next("deduct", "after")

    with pytest.raises(PlatformUnavailable):
        platform.deduct(EMPLOYEE_ID, "current", 8_000, "order-0008-pay", "ORDER-0008")

    found = platform.find_deduction("order-0008-pay")
    assert found is not None and found.amount_fen == 8_000
    assert platform.balances(EMPLOYEE_ID).current_fen == 42_000


def test_a_timeout_before_the_deduction_moves_nothing(platform, people):
    people.fail_next("deduct", "before")

    with pytest.raises(PlatformUnavailable):
        platform.deduct(EMPLOYEE_ID, "current", 8_000, "order-0009-pay", "ORDER-0009")

    assert platform.find_deduction("order-0009-pay") is None
    assert platform.balances(EMPLOYEE_ID).current_fen == 50_000


# ---- refund ----------------------------------------------------------------------------------------------------
def test_a_full_refund_restores_the_account_and_marks_the_deduction_refunded(platform, people):
    deduction = platform.deduct(EMPLOYEE_ID, "prior_years", 15_000, "order-0010-pay", "ORDER-0010")

    refund = platform.refund("order-0010-pay", 15_000, "order-0010-refund")

    assert (refund.deduction_id, refund.amount_fen, refund.idempotency_key) == (deduction.deduction_id, 15_000,
                                                                               "order-0010-refund")
    assert platform.balances(EMPLOYEE_ID).prior_years_fen == 120_000
    assert platform.find_deduction("order-0010-pay").status == "refunded"


def test_refunds_together_cannot_exceed_the_deduction(platform, people):
    platform.deduct(EMPLOYEE_ID, "current", 10_000, "order-0011-pay", "ORDER-0011")
    platform.refund("order-0011-pay", 6_000, "order-0011-refund-a")

    with pytest.raises(PlatformError) as refused:
        platform.refund("order-0011-pay", 4_001, "order-0011-refund-b")

    assert refused.value.code == "REFUND_EXCEEDS_DEDUCTION"
    assert platform.balances(EMPLOYEE_ID).current_fen == 46_000
    assert platform.find_deduction("order-0011-pay").status == "done"


def test_replaying_a_refund_key_refunds_once(platform, people):
    platform.deduct(EMPLOYEE_ID, "current", 10_000, "order-0012-pay", "ORDER-0012")
    first = platform.refund("order-0012-pay", 4_000, "order-0012-refund")

    assert platform.refund("order-0012-pay", 4_000, "order-0012-refund") == first
    assert platform.balances(EMPLOYEE_ID).current_fen == 44_000


def test_reusing_a_refund_key_for_another_amount_is_refused(platform, people):
    platform.deduct(EMPLOYEE_ID, "current", 10_000, "order-0013-pay", "ORDER-0013")
    platform.refund("order-0013-pay", 4_000, "order-0013-refund")

    with pytest.raises(PlatformError) as refused:
        platform.refund("order-0013-pay", 5_000, "order-0013-refund")
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_refund_of_an_unknown_deduction_is_refused(platform, people):
    with pytest.raises(PlatformError) as refused:
        platform.refund("never-deducted", 100, "order-0014-refund")
    assert refused.value.code == "DEDUCTION_NOT_FOUND"


# ---- settlement records ----------------------------------------------------------------------------------------
def _settled(settlement_id: str, day: int) -> Settlement:
    return Settlement(settlement_id=settlement_id, id_number=EMPLOYEE_ID, service_date=date(2021, 4, day),
                      setting="inpatient", amounts_fen={"in_policy_below_catastrophic_fen": 180_000},
                      settled_at=datetime(2021, 4, day, 18, 0, tzinfo=CHINA_TZ))


def test_settlements_are_read_after_a_sequence_number_in_publication_order(platform, people):
    for record in (_settled("S-3", 12), _settled("S-1", 2), _settled("S-2", 10)):
        people.add_settlement(record)

    page = platform.settlements_after(0)

    assert [(s.seq, s.settlement_id) for s in page] == [(1, "S-3"), (2, "S-1"), (3, "S-2")]
    assert page[2] == _settled("S-2", 10).model_copy(update={"seq": 3})
    assert [s.settlement_id for s in platform.settlements_after(1, limit=1)] == ["S-1"]


def test_a_record_settled_earlier_but_published_late_is_not_skipped(platform, people):
    people.add_settlement(_settled("S-10", 10))
    cursor = platform.settlements_after(0)[-1].seq
    people.add_settlement(_settled("S-LATE", 2))  # settled on the 2nd, published after the 10th's

    assert [s.settlement_id for s in platform.settlements_after(cursor)] == ["S-LATE"]
    assert platform.settlements_after(cursor + 1) == []


def test_a_national_record_travels_whole(platform, people):
    from chalicelib.domain.settlement import NationalSettlement

    national = NationalSettlement(setl_id="N-1", setl_time=datetime(2021, 5, 1, 10, tzinfo=CHINA_TZ), med_type="21",
                                  medfee_sumamt="250000.00", fulamt_ownpay_amt="50000.00", inscp_scp_amt="200000.00",
                                  hifp_pay="140000.00", hifmi_pay="30000.00", psn_part_amt="80000.00",
                                  acct_pay="10000.00", psn_cash_pay="70000.00")
    people.add_settlement(Settlement(settlement_id="N-1", id_number=EMPLOYEE_ID, service_date=date(2021, 5, 1),
                                     setting="inpatient", national=national, settled_at=national.setl_time))
    [record] = platform.settlements_after(0)
    assert record.national == national and record.amounts_fen == {}


# ---- the 代扣代缴确认信息 and the replies to it (DOMAIN §9.3, §9.9) ------------------------------------------------
def _notice(key: str = "renewal-PL1-lishui-2022-notice", amount: int = 10_700):
    from chalicelib.domain.platform import DeductionNotice

    return DeductionNotice(idempotency_key=key, id_number=EMPLOYEE_ID, plan_name="浙丽保 2022", amount_fen=amount,
                           account_source="current", deduction_on=date(2021, 12, 17), text="【自动续保扣费确认】…")


def test_a_deduction_notice_is_sent_once_per_key(platform, people):
    first = platform.send_deduction_notice(_notice())
    assert platform.send_deduction_notice(_notice()) == first
    assert list(people.notices) == ["renewal-PL1-lishui-2022-notice"]


def test_the_same_notice_key_with_another_notice_is_refused(platform, people):
    platform.send_deduction_notice(_notice())
    with pytest.raises(PlatformError) as refused:
        platform.send_deduction_notice(_notice(amount=99))
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_notice_to_an_unknown_person_is_refused(platform, people):
    from chalicelib.domain.platform import DeductionNotice

    with pytest.raises(PlatformError) as refused:
        platform.send_deduction_notice(DeductionNotice(**(_notice().model_dump() | {"id_number": UNKNOWN_ID})))
    assert refused.value.code == "PERSON_NOT_FOUND"


def test_a_stop_given_through_the_platforms_channel_is_read_after_a_cursor(platform, people):
    platform.send_deduction_notice(_notice("n-1"))
    platform.send_deduction_notice(_notice("n-2"))
    people.reply_to_notice("n-2", "stop")
    people.reply_to_notice("n-1", "stop")

    replies = platform.notice_replies(0)
    assert [(r.seq, r.notice_idempotency_key, r.reply) for r in replies] == [(1, "n-2", "stop"), (2, "n-1", "stop")]
    assert [r.notice_idempotency_key for r in platform.notice_replies(1)] == ["n-1"]


# ---- the daily account statement (对账单, DOMAIN §9.10) --------------------------------------------------------
def test_the_daily_statement_lists_that_days_deductions_and_refunds(platform, people):
    platform.deduct(EMPLOYEE_ID, "current", 10_000, "order-S1-pay", "ORDER-S1")
    platform.refund("order-S1-pay", 10_000, "order-S1-refund")

    entries = platform.account_statement(date(2021, 4, 15))

    assert [(e.kind, e.idempotency_key, e.deduction_idempotency_key, e.amount_fen) for e in entries] == [
        ("deduction", "order-S1-pay", "order-S1-pay", 10_000), ("refund", "order-S1-refund", "order-S1-pay", 10_000)]
    assert platform.account_statement(date(2021, 4, 16)) == []
