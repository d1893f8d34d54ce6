"""The daily platform reconciliation (对账, DOMAIN §9.10): what we asked the 医保 platform to move on a day against
the platform's statement of that day. Pure: the service gathers both sides, `compare` says what matches and what
does not, and each difference becomes one stored staff task (never silently corrected).

Kinds of difference:
    amount_differs      the same request (idempotency key) with another amount on the statement
    not_ours            on the statement, but no request of ours (or our record says nothing was taken)
    deduction_missing   our order says the money was taken; the platform has no such deduction
    refund_missing      our record says the money was returned; the platform has no such refund
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.platform import StatementEntry

DifferenceKind = Literal["amount_differs", "not_ours", "deduction_missing", "refund_missing"]
EntryKind = Literal["deduction", "refund"]
DIFFERENCE_KINDS: tuple[str, ...] = ("amount_differs", "not_ours", "deduction_missing", "refund_missing")


@dataclass(frozen=True)
class Expected:
    """One movement our records say the platform made (or may have made: `certain=False` while an order is still
    settling — then its absence is no difference, and its presence is a lost answer to complete)."""

    kind: EntryKind
    idempotency_key: str
    amount_fen: int
    order_id: str | None = None
    refund_id: str | None = None
    plan_id: str | None = None
    certain: bool = True


@dataclass(frozen=True)
class Comparison:
    matched: list[tuple[Expected, StatementEntry]]
    amount_differs: list[tuple[Expected, StatementEntry]]
    missing: list[Expected]  # certain movements of ours the day's statement lacks
    unmatched: list[StatementEntry]  # statement lines no expectation of that day names
    lost_answers: list[tuple[Expected, StatementEntry]]  # uncertain (settling) movements the platform made


def compare(ours: list[Expected], statement: list[StatementEntry]) -> Comparison:
    """Match by (kind, idempotency key): the platform's own key for each request we made."""
    by_key = {(e.kind, e.idempotency_key): e for e in ours}
    seen: set[tuple[str, str]] = set()
    matched, differs, unmatched, lost = [], [], [], []
    for entry in statement:
        key = (entry.kind, entry.idempotency_key)
        expected = by_key.get(key)
        if expected is None or key in seen:
            unmatched.append(entry)
            continue
        seen.add(key)
        if expected.amount_fen != entry.amount_fen:
            differs.append((expected, entry))
        elif expected.certain:
            matched.append((expected, entry))
        else:
            lost.append((expected, entry))
    missing = [e for e in ours if e.certain and (e.kind, e.idempotency_key) not in seen]
    return Comparison(matched=matched, amount_differs=differs, missing=missing, unmatched=unmatched,
                      lost_answers=lost)


class ReconciliationDifference(BaseModel):
    """A staff task: one difference found by the reconciliation of `day`, stored once (no personal data)."""

    model_config = ConfigDict(extra="allow")

    day: str
    kind: DifferenceKind
    entry_kind: EntryKind
    idempotency_key: str
    ours_fen: int | None = None
    platform_fen: int | None = None
    order_id: str | None = None
    refund_id: str | None = None
    plan_id: str | None = None
    city: str | None = None  # the plan's 统筹区; None when the line is not ours (shown to every city's staff)
    found_at: str
    status: Literal["open", "resolved"] = "open"
