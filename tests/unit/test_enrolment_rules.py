"""DOMAIN §2–§4 as pure rules."""
from datetime import date

import pytest

from chalicelib.domain.enrolment_rules import (
    add_months,
    benefit_start,
    check_eligible,
    check_personal_account_allowed,
    check_plan_open,
    covered_on,
    payment_methods_for,
)
from chalicelib.domain.errors import RuleViolation
from chalicelib.domain.platform import LifeEvent, PlatformPerson, SuspensionPeriod
from chalicelib.plans import all_plans

LISHUI_21 = all_plans()["lishui-2021"]
LISHUI_22 = all_plans()["lishui-2022"]
DENGFENG_18 = all_plans()["dengfeng-2018"]


def person(**kw) -> PlatformPerson:
    base = dict(id_number="x", name="张三", city="331100", county="331102", basic_type="employee", status="active")
    return PlatformPerson(**(base | kw))


def start(plan, paid_on, who=None, renewal=False):
    return benefit_start(plan, who or person(), paid_on, renewal)


@pytest.mark.parametrize("months_later, day, expected", [
    (6, date(2021, 4, 15), date(2021, 10, 15)),
    (6, date(2021, 8, 31), date(2022, 2, 28)),
    (6, date(2023, 8, 31), date(2024, 2, 29)),
    (6, date(2021, 12, 31), date(2022, 6, 30)),
    (6, date(2021, 7, 31), date(2022, 1, 31)),
])
def test_six_months_is_same_day_or_month_end(months_later, day, expected):
    assert add_months(day, months_later) == expected


def test_paid_in_window_starts_at_coverage_start():
    assert start(LISHUI_21, date(2020, 12, 31)) == (date(2021, 1, 1), "in_window")


def test_first_year_grace_starts_the_day_after_payment():
    assert start(LISHUI_21, date(2021, 3, 31)) == (date(2021, 4, 1), "first_year_grace")
    assert start(LISHUI_21, date(2021, 1, 1)) == (date(2021, 1, 2), "first_year_grace")


def test_late_enrolment_waits_six_months():
    assert start(LISHUI_21, date(2021, 4, 1)) == (date(2021, 10, 1), "late_six_months")


def test_late_enrolment_at_month_end_waits_to_the_last_day_of_the_month():
    assert start(LISHUI_22, date(2022, 3, 31)) == (date(2022, 9, 30), "late_six_months")


def test_second_year_has_no_grace_window():
    assert start(LISHUI_22, date(2022, 1, 15)) == (date(2022, 7, 15), "late_six_months")


def test_enrolment_too_late_to_start_is_refused():
    with pytest.raises(RuleViolation) as err:
        start(LISHUI_21, date(2021, 7, 1))
    assert err.value.code == "BENEFITS_CANNOT_START"
    assert start(LISHUI_21, date(2021, 6, 30)) == (date(2021, 12, 30), "late_six_months")


def test_newborn_within_90_days_starts_with_basic_insurance():
    baby = person(basic_type="resident", basic_start=date(2021, 5, 10),
                  life_events=[LifeEvent(kind="newborn", date=date(2021, 5, 1))])
    assert start(LISHUI_21, date(2021, 7, 30), baby) == (date(2021, 5, 10), "life_event")


def test_newborn_after_90_days_waits_six_months():
    baby = person(basic_type="resident", basic_start=date(2021, 1, 5),
                  life_events=[LifeEvent(kind="newborn", date=date(2021, 1, 1))])
    assert start(LISHUI_21, date(2021, 4, 1), baby) == (date(2021, 1, 5), "life_event")  # day 90
    assert start(LISHUI_21, date(2021, 4, 2), baby) == (date(2021, 10, 2), "late_six_months")


def test_household_move_within_30_days_never_before_coverage_start():
    mover = person(basic_start=date(2020, 12, 20),
                   life_events=[LifeEvent(kind="household_moved_in", date=date(2020, 12, 15))])
    assert start(LISHUI_21, date(2021, 1, 10), mover) == (date(2021, 1, 1), "life_event")


def test_basic_restored_postpones_benefits_six_months_after_restoration():
    restored = person(restored_on=date(2020, 11, 30))
    assert start(LISHUI_21, date(2020, 12, 20), restored) == (date(2021, 5, 30), "basic_restored")


def test_restoration_long_ago_changes_nothing():
    restored = person(restored_on=date(2019, 1, 1))
    assert start(LISHUI_21, date(2020, 12, 20), restored) == (date(2021, 1, 1), "in_window")


def test_renewal_without_gap_starts_at_coverage_start():
    assert start(LISHUI_22, date(2021, 12, 31), renewal=True) == (date(2022, 1, 1), "renewal")


def test_renewal_after_window_is_late():
    assert start(LISHUI_22, date(2022, 1, 5), renewal=True).waiting_rule == "late_six_months"


def test_dengfeng_has_no_waiting_and_no_late_enrolment():
    resident = person(city="410185", basic_type="resident")
    assert start(DENGFENG_18, date(2018, 11, 30), resident) == (date(2018, 12, 1), "in_window")
    with pytest.raises(RuleViolation) as err:
        start(DENGFENG_18, date(2018, 12, 1), resident)
    assert err.value.code == "PLAN_CLOSED"


def test_plan_open_window():
    check_plan_open(LISHUI_21, date(2020, 11, 20))
    check_plan_open(LISHUI_21, date(2021, 6, 1))
    with pytest.raises(RuleViolation, match="PLAN_NOT_OPEN"):
        check_plan_open(LISHUI_21, date(2020, 11, 19))
    with pytest.raises(RuleViolation, match="PLAN_CLOSED"):
        check_plan_open(DENGFENG_18, date(2018, 12, 1))


@pytest.mark.parametrize("kw, code", [
    ({"city": "330100"}, "NOT_IN_PLAN_CITY"),
    ({"status": "suspended"}, "BASIC_INSURANCE_SUSPENDED"),
])
def test_ineligible_people_are_refused_with_the_reason(kw, code):
    with pytest.raises(RuleViolation) as err:
        check_eligible(LISHUI_21, person(**kw))
    assert err.value.code == code
    assert err.value.status == 422


def test_dengfeng_admits_residents_only_and_excludes_its_programme():
    check_eligible(DENGFENG_18, person(city="410185", basic_type="resident"))
    with pytest.raises(RuleViolation, match="BASIC_TYPE_NOT_ADMITTED"):
        check_eligible(DENGFENG_18, person(city="410185", basic_type="employee"))
    with pytest.raises(RuleViolation, match="EXCLUDED_PROGRAMME"):
        check_eligible(DENGFENG_18, person(city="410185", basic_type="resident",
                                           special_groups=["困难群众大病补充医疗保险"]))


def test_personal_account_pays_self_from_current_and_relatives_from_prior_years():
    payer = person()
    assert check_personal_account_allowed(LISHUI_21, payer, payer, None, "本人") == "current"
    assert check_personal_account_allowed(LISHUI_21, payer, person(basic_type="resident"), "parent", "父亲") \
        == "prior_years"
    with pytest.raises(RuleViolation, match="RELATIONSHIP_NOT_ALLOWED"):
        check_personal_account_allowed(LISHUI_21, payer, person(), "other", "朋友")
    with pytest.raises(RuleViolation, match="NO_PERSONAL_ACCOUNT"):
        check_personal_account_allowed(LISHUI_21, person(basic_type="resident"), person(), None, "本人")
    with pytest.raises(RuleViolation, match="PAYMENT_METHOD_NOT_OFFERED"):
        check_personal_account_allowed(DENGFENG_18, payer, payer, None, "本人")


def test_payment_methods_listed_per_relative():
    payer = person()
    assert payment_methods_for(LISHUI_21, payer, person(), "spouse") == ["wechat_pay", "personal_account"]
    assert payment_methods_for(LISHUI_21, payer, person(), "other") == ["wechat_pay"]
    assert payment_methods_for(LISHUI_21, person(basic_type="resident"), person(), None) == ["wechat_pay"]


def test_service_dates_inside_a_suspension_are_not_covered():
    suspended = [SuspensionPeriod(start=date(2021, 5, 1), end=date(2021, 5, 31))]
    assert covered_on(date(2021, 1, 1), date(2021, 12, 31), suspended, date(2021, 5, 15)) == (False, "basic_suspended")
    assert covered_on(date(2021, 1, 1), date(2021, 12, 31), suspended, date(2021, 6, 1)) == (True, None)
    assert covered_on(date(2021, 4, 1), date(2021, 12, 31), [], date(2021, 3, 31)) == (False, "before_benefit_start")
