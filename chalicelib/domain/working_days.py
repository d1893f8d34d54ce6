"""Working days on the Chinese statutory calendar (法定工作日): public holidays are off, make-up weekends (调休上班) on.

Where a day's answer comes from, most authoritative first:
1. an **official year loaded by an operator** (`OfficialYear`: the State Council's notice of the year's holidays and
   make-up working days, 国务院办公厅关于节假日安排的通知, published each winter) — stored in the table, no deploy;
2. **chinese-calendar** (pinned), which ships the notices of the years published when it was released (to 2026);
3. beyond both, the **public holidays by rule** (`holidays` package, pinned: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆
   from the lunar calendar) with Monday–Friday otherwise. The make-up working days cannot be known yet, so such a
   day is *estimated*, and a deadline counted over it says so to the member (`decision_due_estimated`).

Pure: the official years are passed in (`WorkingCalendar`); nothing here reads the table or the clock.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache


@dataclass(frozen=True)
class WorkingDay:
    working: bool
    estimated: bool  # True when the year has no official calendar (holidays by rule, no make-up days)


@dataclass(frozen=True)
class Deadline:
    due: date
    estimated: bool


@dataclass(frozen=True)
class OfficialYear:
    """One year's official calendar: the days off that would otherwise be working days, and the make-up working
    days that would otherwise be off (weekends). Raises ValueError naming the problem if it cannot be right."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        outside = sorted(d for d in self.holidays | self.workdays if d.year != self.year)
        if outside:
            raise ValueError(f"{outside[0].isoformat()} is not in {self.year}")
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and a working day")
        weekday_workdays = sorted(d for d in self.workdays if d.weekday() < 5)
        if weekday_workdays:
            raise ValueError(f"{weekday_workdays[0].isoformat()} is a weekday: a make-up working day is a weekend day")

    @classmethod
    def of(cls, year: int, holidays: Iterable[date], workdays: Iterable[date]) -> OfficialYear:
        return cls(year, frozenset(holidays), frozenset(workdays))

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class WorkingCalendar:
    """The statutory calendar with the official years an operator loaded (year → OfficialYear)."""

    official: Mapping[int, OfficialYear] = field(default_factory=dict)

    def working_day(self, day: date) -> WorkingDay:
        loaded = self.official.get(day.year)
        if loaded is not None:
            return WorkingDay(loaded.is_working(day), False)
        import chinese_calendar  # imported on first use: the data tables are not needed at cold start

        try:
            return WorkingDay(chinese_calendar.is_workday(day), False)
        except NotImplementedError:  # the year's notice is not in the library: public holidays by rule
            return WorkingDay(day.weekday() < 5 and day not in _holidays_by_rule(day.year), True)

    def is_official(self, year: int) -> bool:
        """Whether `year` has an official calendar (loaded, or shipped with chinese-calendar)."""
        return not self.working_day(date(year, 7, 1)).estimated


@lru_cache(maxsize=16)
def _holidays_by_rule(year: int) -> frozenset[date]:
    from holidays.countries.china import China  # one country's rules, not the whole registry

    return frozenset(China(years=year))


PUBLISHED = WorkingCalendar()  # what the pinned libraries know, no loaded year


def working_day(day: date, calendar: WorkingCalendar | None = None) -> WorkingDay:
    return (calendar or PUBLISHED).working_day(day)


def add_working_days(start: date, count: int, calendar: WorkingCalendar | None = None) -> Deadline:
    """The `count`-th working day after `start` (`start` itself never counts, whatever it is).

    15 working days after a claim completed on Friday 2026-09-18 → Thursday 2026-10-15 (Sunday 09-20 and
    Saturday 10-10 are make-up working days; 中秋 09-25..27 and 国庆 10-01..07 are off).
    """
    if count < 1:
        raise ValueError("count must be positive")
    calendar = calendar or PUBLISHED
    day, counted, estimated = start, 0, False
    while counted < count:
        day += timedelta(days=1)
        info = calendar.working_day(day)
        estimated |= info.estimated
        counted += info.working
    return Deadline(day, estimated)


def years_spanned(start: date, count: int) -> tuple[int, ...]:
    """The years a count of `count` working days from `start` can reach (which official years to read): the start's
    year, and the next one when the count may cross New Year (at most ~3 weeks for 15 days, more over 春节)."""
    last = start + timedelta(days=count * 2 + 14)
    return tuple(range(start.year, last.year + 1))
