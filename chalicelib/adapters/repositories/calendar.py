"""Official calendar years (the State Council's holiday notice) as loaded by an operator: item `CALENDAR#{year}`.

`DynamoCalendarRepository` and its twin `InMemoryCalendarRepository` behave the same
(tests/contract/test_claim_repository.py). Reading the years a deadline may span is one BatchGetItem.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import Table
from chalicelib.domain.working_days import OfficialYear


class CalendarRepository(Protocol):
    def years(self, years: Iterable[int]) -> dict[int, OfficialYear]: ...
    def put_year(self, year: OfficialYear, loaded_by: str, loaded_at: str) -> None: ...


def official_year_item(year: OfficialYear, loaded_by: str, loaded_at: str) -> dict[str, Any]:
    return {**keys.official_calendar(year.year), "year": year.year,
            "holidays": sorted(d.isoformat() for d in year.holidays),
            "workdays": sorted(d.isoformat() for d in year.workdays),
            "loaded_by": loaded_by, "loaded_at": loaded_at}


def official_year_from_item(item: dict[str, Any]) -> OfficialYear:
    return OfficialYear.of(int(item["year"]), (date.fromisoformat(d) for d in item.get("holidays") or []),
                           (date.fromisoformat(d) for d in item.get("workdays") or []))


class DynamoCalendarRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def years(self, years: Iterable[int]) -> dict[int, OfficialYear]:
        wanted = [keys.official_calendar(y) for y in dict.fromkeys(years)]
        return {int(i["year"]): official_year_from_item(i) for i in (self.table.batch_get(wanted) if wanted else [])}

    def put_year(self, year: OfficialYear, loaded_by: str, loaded_at: str) -> None:
        self.table.put(official_year_item(year, loaded_by, loaded_at))  # a later notice replaces the earlier one


class InMemoryCalendarRepository:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loaded: dict[int, OfficialYear] = {}

    def years(self, years: Iterable[int]) -> dict[int, OfficialYear]:
        return {y: self.loaded[y] for y in years if y in self.loaded}

    def put_year(self, year: OfficialYear, loaded_by: str, loaded_at: str) -> None:
        with self._lock:
            self.loaded[year.year] = year
