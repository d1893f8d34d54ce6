"""Decision deadlines on the Chinese statutory calendar (DOMAIN §7): holidays off, make-up weekends on; beyond the
published calendar, Monday–Friday, flagged as estimated."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.working_days import add_working_days, working_day


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


def test_a_span_crossing_into_2027_counts_weekdays_and_is_estimated():
    # 2026-12-21 (Mon) → 12-22..12-31 are 8 working days; 2027 has no published calendar: Mon–Fri from 01-01.
    deadline = add_working_days(date(2026, 12, 21), 15)
    assert deadline.due == date(2027, 1, 11)
    assert deadline.estimated is True


def test_a_2027_weekend_is_assumed_off_and_flagged():
    info = working_day(date(2027, 1, 2))
    assert (info.working, info.estimated) == (False, True)


def test_new_year_2027_is_assumed_a_working_friday_until_published():
    assert working_day(date(2027, 1, 1)).working is True


@pytest.mark.parametrize("count", [0, -1])
def test_counting_needs_a_positive_number_of_days(count):
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), count)
