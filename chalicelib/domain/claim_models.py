"""The claim aggregate (理赔, DOMAIN §7) as typed models: a Claim with its Documents and its timeline (ClaimEvent),
the paid-bill marker, and the few facts of its policy a claim needs. Fields are named once, here; the repositories
(chalicelib/adapters/repositories/claims.py) map them to and from stored items, and only they know keys.

The lifecycle (which status may follow which) is the transition table in `domain/claims.py`; `Claim.moved` applies
one path of it and refuses any move the table lacks. Pure: no I/O, no clock (times are passed in).
"""
from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import claims as rules
from chalicelib.domain.claims import ClaimStatus, DocumentStatus
from chalicelib.domain.plan import CATEGORIES

Bill = dict[str, Any]  # a bill in the API's shape: service_date, setting, <category>_fen..., settlement_id?


class _Model(BaseModel):
    # defer_build: validators are built on first use, not at import (cold start)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Actor(_Model):
    """Who changed a claim: `kind` member | staff | system; `role` insured | proxy | a staff role | system."""

    kind: Literal["member", "staff", "system"]
    id: str
    role: str


SYSTEM = Actor(kind="system", id="system", role="system")


class YearToDateFigures(_Model):
    """A policy's year-to-date state (DOMAIN §5) as shown on a claim."""

    deductible_used_fen: int
    eligible_fen: int
    paid_fen: int

    def released(self, before: YearToDateFigures, after: YearToDateFigures) -> YearToDateFigures:
        """This state without one payment that moved it from `before` to `after` (a recalled payment): each figure
        less that payment's share of it, never below zero."""
        return YearToDateFigures(
            deductible_used_fen=max(0, self.deductible_used_fen - (after.deductible_used_fen
                                                                   - before.deductible_used_fen)),
            eligible_fen=max(0, self.eligible_fen - (after.eligible_fen - before.eligible_fen)),
            paid_fen=max(0, self.paid_fen - (after.paid_fen - before.paid_fen)))


class Payee(_Model):
    """Where the claim is paid; the account number is kept encrypted (`Claim.payee_account_enc`), shown masked."""

    account_name: str
    bank_name: str
    account_number_masked: str


PayoutStatus = Literal["awaiting_payee", "requested", "processing", "succeeded", "failed"]


class ClaimPayout(_Model):
    """The transfer that pays an approved claim (DOMAIN §11.3, docs/payouts.md).

    `requested` is written in the transaction that commits the payment (the year-to-date state advances there, with
    the paid-bill markers), before the gateway is asked; the gateway's answer then moves the claim to `paid`
    (`succeeded`) or `payout_failed` (`failed`). `processing` and an unanswered `requested` are confirmed by the
    payout sweep, which looks the transfer up by its idempotency key before asking again. `awaiting_payee`: an
    automatic claim approved while the member has no payee account; nothing is committed until one is given.
    A retry after a failure is a new attempt with a new key; the amount never changes."""

    status: PayoutStatus
    attempt: int = 1
    amount_fen: int = 0
    idempotency_key: str | None = None
    transfer_id: str | None = None
    failure_code: str | None = None
    requested_at: str | None = None
    finished_at: str | None = None

    @staticmethod
    def key(claim_id: str, attempt: int) -> str:
        return f"claim-{claim_id}" if attempt == 1 else f"claim-{claim_id}-{attempt}"


HoldReason = Literal["identity_recovered"]


class PayeeHold(_Model):
    """A claim whose transfer may go (or have gone) to a payee nobody trusts any more — e.g. the person recovered
    their identity from the account that claimed (issue #10) while a transfer was already with the gateway. The
    transfer is never cancelled; no further transfer is sent for the claim, and staff see the hold and why."""

    reason: HoldReason
    at: str
    transfer_key: str | None = None  # the idempotency key of the transfer that was with the gateway
    transfer_status: str | None = None  # what the gateway said of it then (None: it did not answer)


class ClaimPolicy(_Model):
    """What a claim reads of its policy: terms, the insured, the year-to-date state and its version (the condition
    of every payment). A read projection of the policy item, not the Policy aggregate (orders own that)."""

    policy_id: str
    plan_id: str
    insured_hash: str
    insured_name: str | None = None
    insured_id_enc: str | None = None
    status: str = "active"
    benefit_start: date
    coverage_end: date
    county: str | None = None
    payment_method: str | None = None
    payer_account_id: str | None = None  # who paid (the access rule's `payer` role; a payer claims only if granted)
    year_to_date: YearToDateFigures
    version: int | None = None  # None: a policy item written before versions existed


class Claim(_Model):
    claim_id: str
    policy_id: str
    plan_id: str
    insured_hash: str
    insured_name: str | None = None
    claimant_kind: Literal["member", "system"]
    claimant_account_id: str | None = None
    claimant_role: str
    channel: Literal["online", "auto"] = "online"  # auto: created from a settlement record (免申即享)
    settlement_id: str | None = None  # the 医保 settlement record an automatic claim comes from
    unplaced: list[str] = Field(default_factory=list)  # categories the slip could not place (claim them by hand)
    status: ClaimStatus
    version: int
    bills: list[Bill]
    estimate_fen: int
    estimate_ytd_before: YearToDateFigures | None = None
    requires_documents: bool = True
    document_count: int = 0
    submitted_at: str
    updated_at: str
    payee: Payee | None = None
    payee_account_enc: str | None = None
    completed_at: str | None = None
    decision_due: date | None = None
    decision_due_estimated: bool = False
    member_note: str | None = None
    reviewed_bills: list[Bill] | None = None
    approved_fen: int | None = None
    approved_at: str | None = None
    approved_by: str | None = None
    approved_ytd_before: YearToDateFigures | None = None
    paid_fen: int | None = None
    paid_at: str | None = None
    ytd_before_payment: YearToDateFigures | None = None
    ytd_after_payment: YearToDateFigures | None = None
    payout: ClaimPayout | None = None
    payee_hold: PayeeHold | None = None
    recalled_payout: ClaimPayout | None = None  # the last payment recalled (its attempt numbers the next one)

    @property
    def first_payout_attempt(self) -> int:
        """The attempt number of the claim's next payment. After a recall it continues from the recalled one: a
        transfer that had failed is followed by a new key; one the gateway did not have keeps its key, so a
        transfer sent late under it can never be followed by a second one to another account."""
        recalled = self.recalled_payout
        if recalled is None:
            return 1
        return recalled.attempt + 1 if recalled.status == "failed" else recalled.attempt

    @property
    def payment_committed(self) -> bool:
        """The payment's transaction ran (year-to-date state advanced): only the transfer may still be missing."""
        return self.payout is not None and self.payout.status != "awaiting_payee"

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

    def revised(self, at: str, **changes: Any) -> Claim:
        """The claim with `changes` and a new version, its status unchanged (e.g. a payout attempt recorded)."""
        return self.model_copy(update={"version": self.version + 1, "updated_at": at, **changes})

    def moved(self, path: list[str], at: str, **changes: Any) -> Claim:
        """The claim after passing through `path` (from `domain.claims.path_to`): status, one version per state
        passed, `updated_at`, and the given field changes. Refuses a path the transition table does not allow."""
        current = self.status
        for status in path:
            if status not in rules.TRANSITIONS.get(current, frozenset()):
                raise rules.state_conflict(self.status, path[-1])
            current = status
        return self.model_copy(update={"status": path[-1], "version": self.version + len(path), "updated_at": at,
                                       **changes})


class Document(_Model):
    document_id: str
    claim_id: str
    kind: str
    content_type: str
    size_bytes: int
    s3_key: str
    status: DocumentStatus
    created_at: str
    verified_at: str | None = None
    reason_code: str | None = None
    by: Actor


class ClaimEvent(_Model):
    """One timeline entry: the status reached, when, by whom, and the note shown to the member (if any). `seq` is
    the claim's version after the step, so entries of one claim never collide."""

    claim_id: str
    seq: int
    status: ClaimStatus
    at: str
    note: str | None = None
    by: Actor


class StaffAudit(_Model):
    """A staff action, append-only, written in the same transaction as the action."""

    claim_id: str
    seq: int
    at: str
    action: str
    by: Actor
    facts: dict[str, Any] = Field(default_factory=dict)


class PaidBill(_Model):
    """The paid-bill marker: one settlement slip (bill) is paid once per policy, by one claim."""

    policy_id: str
    fingerprint: str
    claim_id: str
    paid_at: str


class Outcome(_Model):
    """An idempotent request's stored answer, written in the same transaction as the change it answers."""

    scope: str
    key: str
    request_hash: str
    status: int
    body: dict[str, Any]
    resource_id: str = ""


def bill_markers(bill: Bill) -> list[str]:
    """The paid-bill markers of one bill: its fingerprint and, for a bill naming its settlement record, one marker per
    category it claims (`S:{settlement_id}:{category}`), so a hand claim naming the record may add only the
    categories the automatic claim could not place (DOMAIN §11.3)."""
    markers = [bill_fingerprint(bill)]
    settlement_id = bill.get("settlement_id")
    if settlement_id:
        markers += [f"S:{settlement_id}:{c}" for c in CATEGORIES if int(bill.get(f"{c}_fen") or 0) > 0]
    return markers


def bill_fingerprint(bill: Bill) -> str:
    """What identifies a settlement slip's figures: service date, setting and every amount. A `settlement_id` the
    bill names is kept with it but is not part of the fingerprint: the same figures claimed with and without it are
    the same slip (keying by settlement and category is the settlement feed's, DOMAIN §11)."""
    facts = [str(bill["service_date"]), bill["setting"]] + [str(int(bill.get(f"{c}_fen") or 0)) for c in CATEGORIES]
    return hashlib.sha256("|".join(facts).encode()).hexdigest()[:32]


SettlementOutcome = Literal["claimed", "review", "no_policy", "already_claimed"]


class SettlementMark(_Model):
    """What became of one settlement record of the 医保 platform (DOMAIN §11.1: acted on once per `settlement_id`).

    `claimed`: an automatic claim was created (`claim_id`); `review`: the record does not add up or cannot be placed
    and waits for staff, paying nothing (`reasons`, with the figures in `details`); `no_policy`: the person has no
    active policy whose benefit period contains the service date; `already_claimed`: the bill was paid by a claim
    made by hand before the record arrived."""

    settlement_id: str
    outcome: SettlementOutcome
    at: str
    seq: int = 0
    claim_id: str | None = None
    policy_id: str | None = None
    plan_id: str | None = None
    service_date: date | None = None
    insured_name_masked: str | None = None
    id_number_masked: str | None = None
    reasons: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    resolved_at: str | None = None
    resolved_by: str | None = None


class PayeeAccount(_Model):
    """A member's payee account as stored: the number encrypted (bound to the account), the rest shown masked."""

    account_id: str
    account_name: str
    bank_name: str
    account_number_masked: str
    account_number_enc: str
    updated_at: str
    source: Literal["member", "ssc"] = "member"  # ssc: the social-security-card account the platform reports
