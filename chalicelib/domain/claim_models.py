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


class Payee(_Model):
    """Where the claim is paid; the account number is kept encrypted (`Claim.payee_account_enc`), shown masked."""

    account_name: str
    bank_name: str
    account_number_masked: str


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

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

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


def bill_fingerprint(bill: Bill) -> str:
    """What identifies a settlement slip's figures: service date, setting and every amount. A `settlement_id` the
    bill names is kept with it but is not part of the fingerprint: the same figures claimed with and without it are
    the same slip (keying by settlement and category is the settlement feed's, DOMAIN §11)."""
    facts = [str(bill["service_date"]), bill["setting"]] + [str(int(bill.get(f"{c}_fen") or 0)) for c in CATEGORIES]
    return hashlib.sha256("|".join(facts).encode()).hexdigest()[:32]
