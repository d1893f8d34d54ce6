"""Working days on the Chinese statutory calendar (法定工作日): public holidays are off, make-up weekends (调休上班) on.

The calendar comes from `chinese-calendar`, which knows only the years the State Council has announced (up to 2026
in the version we ship). For a later year we cannot know the holidays yet, so we count Monday–Friday as working days
and say the result is *estimated*: the real deadline may fall later once that year's holidays are published, and
the claim shows that to the member (`decision_due_estimated`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class WorkingDay:
    working: bool
    estimated: bool  # True when the year is beyond the published calendar (weekdays assumed)


@dataclass(frozen=True)
class Deadline:
    due: date
    estimated: bool


def working_day(day: date) -> WorkingDay:
    import chinese_calendar  # imported on first use: the data tables are not needed at cold start

    try:
        return WorkingDay(chinese_calendar.is_workday(day), False)
    except NotImplementedError:  # the year's holidays are not published in the library yet
        return WorkingDay(day.weekday() < 5, True)


def add_working_days(start: date, count: int) -> Deadline:
    """The `count`-th working day after `start` (`start` itself never counts, whatever it is).

    15 working days after a claim completed on Friday 2026-09-18 → Thursday 2026-10-15 (Sunday 09-20 and
    Saturday 10-10 are make-up working days; 中秋 09-25..27 and 国庆 10-01..07 are off).
    """
    if count < 1:
        raise ValueError("count must be positive")
    day, counted, estimated = start, 0, False
    while counted < count:
        day += timedelta(days=1)
        info = working_day(day)
        estimated |= info.estimated
        counted += info.working
    return Deadline(day, estimated)
