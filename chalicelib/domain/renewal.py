"""Auto-renewal (自动续保, DOMAIN §9, 000 §三(三)3): the renewal of one policy into the next plan as a lifecycle, the
rules that decide whether a mandate may be noticed, stopped or debited, and what the confirmation notice says.
Pure: no I/O, no clock (days and times are passed in).

    off ──consent──▶ consented ──notice──▶ noticed ──renew──▶ renewed
                      │  ▲                  │
                      │  └──────consent─────┤ (re-consent after a stop, before the deduction)
                      ├──stop──▶ stopped ◀──┘
                      └──fail──▶ failed ◀── fail ── noticed

A renewal is per (policy, next plan). `renewed` and `failed` end it for that next plan: a failure is never retried
into a second deduction (§9.5); the member buys by hand. A stop after the deduction is refused
(`RENEWAL_ALREADY_DEDUCTED`): the renewed policy is cancelled instead, with a full refund before coverage starts.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import RuleViolation
from chalicelib.domain.masking import mask_name
from chalicelib.domain.messages import MESSAGES, message_for

RenewalStatus = Literal["off", "consented", "noticed", "stopped", "renewed", "failed"]
STATUSES: tuple[str, ...] = ("off", "consented", "noticed", "stopped", "renewed", "failed")
RenewalEvent = Literal["consent", "notice", "stop", "renew", "fail"]
EVENTS: tuple[str, ...] = ("consent", "notice", "stop", "renew", "fail")
FailureCode = Literal["INSUFFICIENT_BALANCE", "BASIC_INSURANCE_SUSPENDED", "BASIC_INSURANCE_ENDED", "ALREADY_COVERED",
                      "RENEWAL_NOTICE_TOO_LATE", "PAYMENT_REFUSED"]
# PAYMENT_REFUSED: the platform refused the deduction for a reason of its own (after our checks passed).
FAILURE_CODES: tuple[str, ...] = ("INSUFFICIENT_BALANCE", "BASIC_INSURANCE_SUSPENDED", "BASIC_INSURANCE_ENDED",
                                  "ALREADY_COVERED", "RENEWAL_NOTICE_TOO_LATE", "PAYMENT_REFUSED")
Channel = Literal["app", "wechat", "counter", "platform", "system"]

# (status, event) → the status it leads to. Anything absent is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("off", "consent"): "consented",
    ("stopped", "consent"): "consented",
    ("consented", "consent"): "consented",  # consent repeated (another channel): recorded, nothing changes
    ("noticed", "consent"): "noticed",
    ("consented", "notice"): "noticed",
    ("noticed", "notice"): "noticed",  # a notice re-sent by a re-run: recorded once by the caller's idempotency
    ("consented", "stop"): "stopped",
    ("noticed", "stop"): "stopped",
    ("stopped", "stop"): "stopped",
    ("noticed", "renew"): "renewed",
    ("consented", "fail"): "failed",  # e.g. consent came after the notices went out (RENEWAL_NOTICE_TOO_LATE)
    ("noticed", "fail"): "failed",
}
TERMINAL: frozenset[str] = frozenset({"renewed", "failed"})
# Statuses the renewal run still has work for (the renewal index holds exactly these).
IN_RUN: frozenset[str] = frozenset({"consented", "noticed"})


def next_status(status: str, event: str) -> str:
    """Apply one event to a renewal, or refuse a move the table lacks (422 with a code a client can act on)."""
    target = TRANSITIONS.get((status, event))
    if target is not None:
        return target
    if status == "renewed" and event in ("stop", "consent"):
        raise RuleViolation("RENEWAL_ALREADY_DEDUCTED", field="enabled")
    raise RuleViolation("RENEWAL_STATE_CONFLICT", status=status, event=event,
                        status_zh=MESSAGES[f"RENEWAL_STATUS_{status.upper()}"],
                        event_zh=MESSAGES[f"RENEWAL_EVENT_{event.upper()}"])


class RenewalSchedule(BaseModel):
    """The next plan's renewal dates (a plan setting, DOMAIN §9.2–9.3), with the plan it renews."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_plan_id: str
    notice_on: date
    deduction_on: date
    min_notice_days: int

    def notice_in_time(self, noticed_on: date | None) -> bool:
        """No deduction without a notice sent at least `min_notice_days` before the deduction date (§9.3)."""
        return noticed_on is not None and (self.deduction_on - noticed_on).days >= self.min_notice_days

    def may_stop(self, today: date) -> bool:
        """A stop is honoured any time before the announced deduction date (§9.4)."""
        return today < self.deduction_on

    def notices_due(self, today: date) -> bool:
        """The notice job has work from `notice_on` until it is too late for any notice to count."""
        return self.notice_on <= today and self.notice_in_time(today)

    def deductions_due(self, today: date) -> bool:
        return today >= self.deduction_on


def deduction_failure(*, noticed_on: date | None, schedule: RenewalSchedule, basic_status: str | None,
                      same_city: bool, covered_by_anyone: bool, balance_fen: int, premium_fen: int) -> str | None:
    """Why a consenting mandate may NOT be debited on the deduction date (§9.5, §9.8), or None when it may.

    Checked in the order a member would find fairest to be told: first what we did wrong (no timely notice), then
    the person's basic insurance, then cover bought meanwhile (by anyone), then the balance."""
    if not schedule.notice_in_time(noticed_on):
        return "RENEWAL_NOTICE_TOO_LATE"
    if basic_status == "terminated" or basic_status is None or not same_city:
        return "BASIC_INSURANCE_ENDED"  # death, leaving the city: never debited
    if basic_status != "active":
        return "BASIC_INSURANCE_SUSPENDED"
    if covered_by_anyone:
        return "ALREADY_COVERED"
    if balance_fen < premium_fen:
        return "INSUFFICIENT_BALANCE"
    return None


# Why a consenting mandate leaves the run without a notice or a deduction, its consent switched off by the system
# (counted `skipped` with the reason in the run report). DOMAIN §9.1: only a policy paid from the personal account
# renews automatically; §10.4: a policy whose premium a county government took over is paid by that government from
# then on (the member's payment was refunded), so it no longer renews from the member's account — next year the
# member is on that year's list, or buys by hand.
EndReason = Literal["PREMIUM_TAKEN_OVER", "NOT_PAID_FROM_PERSONAL_ACCOUNT"]
END_REASONS: tuple[str, ...] = ("PREMIUM_TAKEN_OVER", "NOT_PAID_FROM_PERSONAL_ACCOUNT")


def consent_ended(*, payment_method: str, taken_over: bool) -> str | None:
    """The reason a consenting policy may no longer renew from the personal account, or None when it may."""
    if taken_over:
        return "PREMIUM_TAKEN_OVER"
    if payment_method != "personal_account":
        return "NOT_PAID_FROM_PERSONAL_ACCOUNT"
    return None


def ended_message(reason: str) -> str:
    """What the payer is told when the system switched their renewal off."""
    return message_for(f"RENEWAL_ENDED_{reason}")


def deduction_key(policy_id: str, next_plan_id: str) -> str:
    """The platform idempotency key of a renewal's one deduction: the same for every re-run, retry and redelivery."""
    return f"renewal-{policy_id}-{next_plan_id}"


class RenewalRecord(BaseModel):
    """The run's record of a policy's renewal into its next plan (the policy's `renewal` attribute): written by the
    notice (`noticed`), claimed by the deduction's order before money moves, ended `renewed` or `failed`."""

    model_config = ConfigDict(extra="allow")  # attributes another version wrote are kept

    next_plan_id: str | None = None
    status: str | None = None  # noticed | renewed | failed (RenewalStatus; the switch gives the others)
    noticed_on: str | None = None  # ISO date (stored as written)
    notice_sent_at: str | None = None
    notice_id: str | None = None
    account_source: Literal["current", "prior_years"] | None = None
    deduction_started_at: str | None = None  # the claim: from here a stop is refused
    order_id: str | None = None  # the renewal order that claimed it
    payer_account_id: str | None = None
    renewed_policy_id: str | None = None
    failure_code: str | None = None

    @property
    def noticed_day(self) -> date | None:
        return date.fromisoformat(self.noticed_on) if self.noticed_on else None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def claimed(self) -> bool:
        """Its deduction is under way (an order holds it) and has not ended."""
        return bool(self.deduction_started_at) and not self.ended


class RenewalHistoryEntry(BaseModel):
    """One consent, notice, stop, deduction or failure, kept for complaint handling (§9.8)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    event: RenewalEvent
    channel: Channel
    by: str  # an account id, a staff id, or "system"; never personal data
    note: str | None = None
    failure_code: FailureCode | None = None


class RenewalNotice(BaseModel):
    """The confirmation notice (代扣代缴确认信息, §9.3): everything a member needs to recognise and stop the debit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    insured_name_masked: str
    next_plan_name: str
    amount_fen: int
    account_source: Literal["current", "prior_years"]
    deduction_on: date
    stop_before: date
    to_insured: bool  # the insured's copy when someone else pays

    def lines(self) -> list[str]:
        source = MESSAGES[f"RENEWAL_ACCOUNT_SOURCE_{self.account_source.upper()}"]
        return [message_for("RENEWAL_NOTICE_WHAT", insured=self.insured_name_masked, plan=self.next_plan_name),
                message_for("RENEWAL_NOTICE_AMOUNT", amount=yuan(self.amount_fen), source=source,
                            deduction_on=zh_date(self.deduction_on)),
                message_for("RENEWAL_NOTICE_HOW_TO_STOP", stop_before=zh_date(self.stop_before))]

    def text(self) -> str:
        return "".join(self.lines())


def notice_for(*, insured_name: str, next_plan_name: str, amount_fen: int, account_source: str,
               schedule: RenewalSchedule, to_insured: bool) -> RenewalNotice:
    """Build the notice; the insured's name is masked here, so no caller can send it in full."""
    from datetime import timedelta

    return RenewalNotice(insured_name_masked=mask_name(insured_name), next_plan_name=next_plan_name,
                         amount_fen=amount_fen, account_source=account_source,  # type: ignore[arg-type]
                         deduction_on=schedule.deduction_on,
                         stop_before=schedule.deduction_on - timedelta(days=1), to_insured=to_insured)


def failure_message(code: str) -> str:
    """What the payer is told when a renewal failed, with what to do next."""
    return message_for(f"RENEWAL_FAILED_{code}")


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# ---- the policy's renewal, as stored and as shown ------------------------------------------------------------
def current_status(*, auto_renew: bool, stored_status: str | None, withdrawn: bool) -> str:
    """A policy's renewal status from what it stores: the run's record (`noticed`, `renewed`, `failed`) for the
    next plan, the consent switch, and whether consent was ever withdrawn. A stop after the notice is `stopped`
    (the run's record stays, for the history); `renewed` and `failed` end it whatever the switch says."""
    if stored_status in TERMINAL:
        return stored_status  # type: ignore[return-value]
    if not auto_renew:
        return "stopped" if withdrawn or stored_status else "off"
    return stored_status or "consented"


def history_entry(at: datetime, event: str, channel: str, by: str, failure_code: str | None = None,
                  note: str | None = None) -> dict[str, object]:
    """One validated history entry as the policy stores it (ISO time, no None fields)."""
    entry = RenewalHistoryEntry(at=at, event=event, channel=channel, by=by,  # type: ignore[arg-type]
                                failure_code=failure_code, note=note)  # type: ignore[arg-type]
    return entry.model_dump(mode="json", exclude_none=True)
