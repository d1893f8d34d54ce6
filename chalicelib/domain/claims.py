"""Claims (理赔, DOMAIN §7): states and the transitions allowed between them, documents and the completeness rule,
the decision deadline, and how a payee account is shown. Pure: no I/O, no clock.

    submitted → under_review → (need_more_info → under_review)* → approved → paid
                                                                 ↘ rejected      ↘ payout_failed → paid
    withdrawn: by the claimant, from any state before a decision.
    approved / payout_failed → under_review: a payment recalled (`RECALL`), e.g. when the person recovers their
    identity from the account that claimed (issue #10): the money has not moved, the payee that account gave is no
    longer trusted, and staff decide again (`payment_recall` says what happens to a transfer already asked for).

`payout_failed`: the transfer did not go through; staff retry it (a new attempt, the same amount) once the member has
corrected their payee account (API.md v1.1, docs/payouts.md). An approved claim is `paid` only when its transfer
confirms.
A claim need not be complete for staff to ask for more information or to reject it; only approval needs it.

A review acting on a `submitted` or `need_more_info` claim first records `under_review` (two timeline entries, one
write), so every decision in the timeline is preceded by the review that made it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import MESSAGES
from chalicelib.domain.working_days import Deadline, WorkingCalendar, add_working_days

ClaimStatus = Literal["submitted", "under_review", "need_more_info", "approved", "payout_failed", "paid", "rejected",
                      "withdrawn"]
STATUSES: tuple[str, ...] = get_args(ClaimStatus)
OPEN_STATUSES: tuple[str, ...] = ("submitted", "under_review", "need_more_info", "approved",
                                  "payout_failed")  # the staff queue
AWAITING_PAYMENT: tuple[str, ...] = ("approved", "payout_failed")  # decided, money not yet moved
BEFORE_DECISION: tuple[str, ...] = ("submitted", "under_review", "need_more_info")  # withdrawable, reviewable

Decision = Literal["approve", "reject", "need_more_info"]
_DECISION_STATUS = {"approve": "approved", "reject": "rejected", "need_more_info": "need_more_info"}
DECISIONS_ON_INCOMPLETE: frozenset[str] = frozenset({"reject", "need_more_info"})  # approval needs a complete claim

# from → the states it may move to directly
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"under_review", "withdrawn"}),
    "under_review": frozenset({"need_more_info", "approved", "rejected", "withdrawn"}),
    "need_more_info": frozenset({"under_review", "withdrawn"}),
    "approved": frozenset({"paid", "payout_failed", "under_review"}),  # under_review: a recalled payment
    "payout_failed": frozenset({"paid", "payout_failed", "under_review"}),  # a retried transfer may fail again
    "paid": frozenset(),
    "rejected": frozenset(),
    "withdrawn": frozenset(),
}

DocumentKind = Literal["id_card", "invoice", "settlement_slip", "expense_list", "discharge_summary",
                       "outpatient_record", "bank_card", "proxy_id", "authorization"]
ContentType = Literal["image/jpeg", "image/png", "application/pdf"]
REQUIRED_FOR_COMPLETENESS: tuple[str, ...] = ("invoice", "settlement_slip")
DocumentStatus = Literal["awaiting_upload", "verified", "rejected"]

DECISION_WORKING_DAYS = 15  # 001 §五: decided within 15 working days of a complete submission


def path_to(current: str, target: str) -> list[str]:
    """The states a claim passes through from `current` to reach `target`, in order (usually just [target]).

    A review decision on a claim that is not yet `under_review` goes through `under_review` first. Raises 409
    CLAIM_STATE_CONFLICT when `target` cannot be reached from `current` (decided, withdrawn, paid...)."""
    if target in TRANSITIONS.get(current, frozenset()):
        return [target]
    if target in TRANSITIONS["under_review"] and "under_review" in TRANSITIONS.get(current, frozenset()) \
            and target != "withdrawn" and current in BEFORE_DECISION:  # a decided claim is decided once
        return ["under_review", target]
    raise state_conflict(current, target)


RecallStep = Literal["recall", "release", "hold", "none"]


def payment_recall(status: str, payout_status: str | None, transfer_status: str | None = None,
                   gateway_answered: bool = True) -> RecallStep:
    """What recalling a claim's payment does (the payee is no longer trusted; staff decide again), from the claim's
    status, its payout's status and — for a transfer that may have been asked for — what the gateway knows of it:

    - `recall`: nothing committed yet (no payout, or awaiting a payee): back to `under_review`;
    - `release`: committed but no money moved — the gateway has no transfer for its key, or the transfer failed —
      so back to `under_review` with the year-to-date state and the paid-bill markers released in the same
      transaction;
    - `hold`: a transfer exists that has not failed (processing or succeeded), or the gateway did not answer: it is
      never cancelled, the claim is held for staff and no further transfer is sent for it;
    - `none`: not awaiting payment (decided otherwise, or paid)."""
    if status not in AWAITING_PAYMENT:
        return "none"
    if payout_status in (None, "awaiting_payee"):
        return "recall"
    if payout_status == "failed":
        return "release"
    if not gateway_answered:
        return "hold"
    return "release" if transfer_status in (None, "failed") else "hold"


RECALL = "under_review"  # the state a recalled payment returns to


def state_conflict(status: str, target: str) -> Conflict:
    """409: the claim's state does not allow this (e.g. a decided claim decided again, a withdrawn claim paid)."""
    return Conflict("CLAIM_STATE_CONFLICT", status=status, target=target,
                    status_zh=MESSAGES[f"CLAIM_STATUS_{status.upper()}"],
                    target_zh=MESSAGES[f"CLAIM_ACTION_{target.upper()}"])


def status_after(decision: str) -> str:
    return _DECISION_STATUS[decision]


def can_withdraw(status: str) -> bool:
    return status in BEFORE_DECISION


@dataclass(frozen=True)
class DocumentState:
    kind: str
    status: str


def missing_for_completeness(documents: Iterable[DocumentState]) -> list[str]:
    """Kinds still needed before the claim is complete: an invoice and a settlement slip, uploaded and verified."""
    verified = {d.kind for d in documents if d.status == "verified"}
    return [k for k in REQUIRED_FOR_COMPLETENESS if k not in verified]


def decision_due(completed_on: date, calendar: WorkingCalendar | None = None) -> Deadline:
    """15 statutory working days after the day the claim became complete, on `calendar` (default: the published
    calendar the library knows, public holidays by rule beyond it)."""
    return add_working_days(completed_on, DECISION_WORKING_DAYS, calendar)


def resumes_review(status: str, complete: bool) -> bool:
    """A claim sent back for more information goes back to review when a newly verified document leaves nothing
    missing (the timeline then shows the member's answer as the start of the next review)."""
    return complete and status == "need_more_info"


def upload_problem(declared_type: str, declared_size: int, actual_type: str | None, actual_size: int,
                   max_bytes: int) -> str | None:
    """Why an uploaded object cannot be accepted (a message code), or None when it matches its declaration.

    The local S3 does not enforce the pre-signed POST's conditions, so every object is checked after upload."""
    if actual_size > max_bytes:
        return "DOCUMENT_REJECTED_TOO_LARGE"
    if (actual_type or "").split(";")[0].strip().lower() != declared_type:
        return "DOCUMENT_REJECTED_TYPE"
    if actual_size != declared_size:
        return "DOCUMENT_REJECTED_SIZE"
    return None


def mask_account_number(number: str) -> str:
    """6222021234561234 → 6222********1234 (first and last four digits kept)."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
