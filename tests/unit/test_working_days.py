"""Decision deadlines on the Chinese statutory calendar (DOMAIN §7): holidays off, make-up weekends on; an official
year loaded by an operator wins; beyond the published calendar, public holidays by rule and Monday–Friday, flagged
as estimated."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.working_days import OfficialYear, WorkingCalendar, add_working_days, working_day


def test_a_national_day_holiday_is_not_a_working_day():
    info = working_day(date(2026, 10, 5))
    assert (info.working, info.estimated) == (False, False)


def test_a_make_up_saturday_is_a_working_day():
    assert working_day(date(2026, 10, 10)).working is True


def test_a_plain_sunday_is_not_a_working_day():
    assert working_day(date(2026, 10, 11)).working is False


def test_fifteen_working_days_across_mid_autumn_and_national_day_2026():
    # Friday 09-18: make-up Sunday 09-20 counts, 中秋 09-25..27 and 国庆 10-01..07 do not, make-up Saturday 10-10 does.
    deadline = add_working_days(date(2026, 9, 18), 15)
    assert (deadline.due, deadline.estimated) == (date(2026, 10, 15), False)


def test_plain_weekdays_would_have_given_a_much_earlier_date():
    deadline = add_working_days(date(2026, 9, 18), 15)
    assert deadline.due > date(2026, 10, 9)  # Mon–Fri only would land on 10-09


def test_the_start_day_itself_never_counts():
    assert add_working_days(date(2026, 9, 21), 1).due == date(2026, 9, 22)


def test_completion_on_a_holiday_counts_from_the_next_working_day():
    assert add_working_days(date(2026, 10, 3), 1).due == date(2026, 10, 8)


def test_a_span_inside_the_published_calendar_is_not_estimated():
    assert add_working_days(date(2026, 12, 1), 15).estimated is False


def test_a_span_crossing_into_2027_skips_new_year_by_rule_and_is_estimated():
    # 2026-12-21 (Mon) → 12-22..12-31 are 8 working days; 2027 is not published: 元旦 01-01 off by rule, then Mon–Fri.
    deadline = add_working_days(date(2026, 12, 21), 15)
    assert deadline.due == date(2027, 1, 12)
    assert deadline.estimated is True


def test_a_2027_weekend_is_assumed_off_and_flagged():
    info = working_day(date(2027, 1, 2))
    assert (info.working, info.estimated) == (False, True)


def test_new_year_2027_is_a_public_holiday_by_rule_before_the_notice_is_published():
    assert (working_day(date(2027, 1, 1)).working, working_day(date(2027, 1, 1)).estimated) == (False, True)


def test_the_spring_festival_2027_is_off_by_the_lunar_calendar():
    assert working_day(date(2027, 2, 8)).working is False  # 春节 falls on 2027-02-06
    assert working_day(date(2027, 2, 15)).working is True


# The State Council's 2027 notice as an operator would load it (illustrative figures: a make-up Saturday 02-20).
OFFICIAL_2027 = OfficialYear.of(2027, [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 13))],
                                [date(2027, 2, 20)])


def test_a_loaded_year_is_official_and_its_make_up_saturday_is_a_working_day():
    calendar = WorkingCalendar({2027: OFFICIAL_2027})
    assert working_day(date(2027, 2, 20), calendar) == working_day(date(2027, 2, 22), calendar)
    assert (working_day(date(2027, 2, 20), calendar).working, working_day(date(2027, 2, 20), calendar).estimated) \
        == (True, False)
    assert working_day(date(2027, 2, 12), calendar).working is False  # off in the notice, a Friday by rule
    assert calendar.is_official(2027) and not WorkingCalendar().is_official(2027)


def test_a_deadline_over_a_loaded_year_is_not_estimated():
    deadline = add_working_days(date(2027, 1, 25), 15, WorkingCalendar({2027: OFFICIAL_2027}))
    # 01-26..01-29 (4), 02-01..02-04 (8), holiday 02-05..02-12, 02-15..02-19 (13), make-up Sat 02-20 (14), 02-22 (15)
    assert (deadline.due, deadline.estimated) == (date(2027, 2, 22), False)


def test_the_same_span_before_the_notice_is_estimated_and_differs():
    deadline = add_working_days(date(2027, 1, 25), 15)
    assert deadline.estimated is True and deadline.due != date(2027, 2, 22)


@pytest.mark.parametrize("holidays, workdays, problem", [
    ([date(2026, 12, 31)], [], "not in 2027"),
    ([date(2027, 2, 20)], [date(2027, 2, 20)], "both"),
    ([], [date(2027, 2, 17)], "weekday"),
])
def test_an_official_year_that_cannot_be_right_is_refused(holidays, workdays, problem):
    with pytest.raises(ValueError, match=problem):
        OfficialYear.of(2027, holidays, workdays)


@pytest.mark.parametrize("count", [0, -1])
def test_counting_needs_a_positive_number_of_days(count):
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), count)
