"""What the 医保 platform tells us, as plain values (no I/O). See docs/medical-platform.md for the wire contract."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.settlement import NationalSettlement

BasicType = Literal["employee", "resident"]
BasicStatus = Literal["active", "suspended", "terminated"]  # terminated: death, leaving the city
AccountSource = Literal["current", "prior_years"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LifeEvent(_Value):
    kind: Literal["newborn", "discharged_soldier", "household_moved_in", "released_from_prison"]
    date: date


class SuspensionPeriod(_Value):
    start: date
    end: date | None = None  # None = still suspended


class SscAccount(_Value):
    """The bank account linked to the person's social-security card (社保卡银行账户), as the platform holds it:
    where an automatic claim may be paid when the member gave no payee. Sensitive (PIPL): never logged."""

    bank_name: str = Field(min_length=1, max_length=60)
    account_number: str = Field(pattern=r"^[0-9]{8,30}$")


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
    ssc_account: SscAccount | None = None


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
    """A settlement record (结算单) the platform publishes — the input of 免申即享 claims (DOMAIN §11).

    `seq` is the platform's sequence number: readers keep a cursor on it, never on time, so a record settled earlier
    but published late is still read. The amounts come either in our §5 categories (`amounts_fen`, keys
    `<category>_fen`: the sandbox's own shape) or in the national 2304 shape (`national`, yuan)."""

    seq: int = 0
    settlement_id: str
    id_number: str
    service_date: date
    setting: Literal["inpatient", "outpatient", "special_outpatient"] | None = None  # None: a med_type not placed
    amounts_fen: dict[str, int] = {}
    national: NationalSettlement | None = None
    settled_at: datetime


class DeductionNotice(_Value):
    """The 代扣代缴确认信息 we ask the platform to send before a renewal deduction (DOMAIN §9.3, §9.9): it reaches
    the insured through the platform's own channel, even a relative with no account with us."""

    idempotency_key: str
    id_number: str
    plan_name: str
    amount_fen: int
    account_source: AccountSource
    deduction_on: date
    text: str


class NoticeReceipt(_Value):
    notice_id: str
    idempotency_key: str
    sent_at: datetime


class NoticeReply(_Value):
    """A person's answer to a deduction notice through the platform's channel (today only: stop the renewal)."""

    seq: int
    notice_idempotency_key: str
    reply: Literal["stop"]
    at: datetime


class StatementEntry(_Value):
    """One line of the platform's daily account statement (对账单): a deduction or a refund we asked for."""

    kind: Literal["deduction", "refund"]
    idempotency_key: str
    deduction_idempotency_key: str  # for a deduction, its own key
    amount_fen: int
    at: datetime
    reference: str = ""
