"""What the 医保 platform tells us, as plain values (no I/O). See docs/medical-platform.md for the wire contract."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BasicType = Literal["employee", "resident"]
BasicStatus = Literal["active", "suspended"]
AccountSource = Literal["current", "prior_years"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LifeEvent(_Value):
    kind: Literal["newborn", "discharged_soldier", "household_moved_in", "released_from_prison"]
    date: date


class SuspensionPeriod(_Value):
    start: date
    end: date | None = None  # None = still suspended


class PlatformPerson(_Value):
    """A person as the 医保 platform knows them."""

    id_number: str
    name: str
    city: str = Field(pattern=r"^\d{6}$")
    county: str | None = None
    basic_type: BasicType
    status: BasicStatus
    basic_start: date | None = None  # when basic-insurance benefits start(ed)
    restored_on: date | None = None  # restoration after arrears / interruption
    suspensions: list[SuspensionPeriod] = []
    special_groups: list[str] = []  # e.g. 特困, 低保, 低边, 困难群众大病补充医疗保险
    life_events: list[LifeEvent] = []


class Balances(_Value):
    current_fen: int
    prior_years_fen: int


class Deduction(_Value):
    """A personal-account deduction, keyed by the caller's idempotency key."""

    deduction_id: str
    idempotency_key: str
    id_number: str
    source: AccountSource
    amount_fen: int
    status: Literal["done", "refunded"] = "done"
    at: datetime
    reference: str = ""


class Refund(_Value):
    refund_id: str
    idempotency_key: str
    deduction_id: str
    amount_fen: int
    at: datetime


class Settlement(_Value):
    """A settlement record (结算单) pushed by the platform — input to 免申即享 claims."""

    settlement_id: str
    id_number: str
    service_date: date
    setting: Literal["inpatient", "outpatient", "special_outpatient"]
    amounts_fen: dict[str, int]
    settled_at: datetime
