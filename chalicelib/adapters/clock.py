"""Clock port. Every rule reads time from here (passed into the domain as values)."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(CHINA_TZ)

    def today(self) -> date:
        return self.now().date()


class SandboxClock(SystemClock):
    """Settable clock for the local stage (`PUT /sandbox/clock`) and tests. Time does not advance by itself
    while set, so scenarios are deterministic."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed = fixed

    def set(self, when: datetime | None) -> None:
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=CHINA_TZ)
        with self._lock:
            self._fixed = when.astimezone(CHINA_TZ) if when else None

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._fixed = (self._fixed or datetime.now(CHINA_TZ)) + delta

    def now(self) -> datetime:
        with self._lock:
            fixed = self._fixed
        return fixed if fixed is not None else datetime.now(CHINA_TZ)


def iso(dt: datetime) -> str:
    """ISO 8601 with +08:00, as API.md requires."""
    return dt.astimezone(CHINA_TZ).isoformat(timespec="seconds")
