"""Changing a claim's status: the claimant withdraws; staff review (approve, reject, ask for more).
Paying is services/claims/payment.py.

Every change is ONE conditional transaction: the claim's status and version are the condition, so two reviewers
can never both decide, a withdrawal cannot slip past a decision, and payment advances the policy's year-to-date
state exactly once (the policy's version is the condition; a conflict re-reads and recomputes). The timeline
entries, the staff audit entry and the idempotency record go into the same transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import Bill, StaffAudit
from chalicelib.domain.errors import BadRequest, Conflict, NotFound, RuleViolation
from chalicelib.domain.messages import MESSAGES
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts
from chalicelib.services.claims.queries import get_for_member, get_for_staff


def withdraw(ports: ClaimPorts, principal, claim_id: str, reason: str | None, now: datetime) -> dict[str, Any]:
    claim, actor = common.load_for_member(ports, principal, claim_id)
    if not rules.can_withdraw(claim.status):
        raise rules.state_conflict(claim.status, "withdrawn")
    after = claim.moved(["withdrawn"], iso(now), **({"member_note": reason} if reason is not None else {}))
    try:
        ports.claims.transition(claim, after, common.events_for(claim, ["withdrawn"], actor, now, reason))
    except ConditionFailed:
        raise Conflict("CLAIM_CHANGED") from None
    common.notify(ports, claim, "withdrawn", reason)
    return get_for_member(ports, principal, claim_id, now.date())


def review(ports: ClaimPorts, principal, claim_id: str, decision: str, bills: list[Bill] | None,
           reason: str | None, now: datetime) -> dict[str, Any]:
    """Approve (reviewed bill amounts → the engine on the policy's year-to-date state now), reject, or ask for more.

    Acting on a `submitted` or `need_more_info` claim records `under_review` first. Approval needs a complete
    claim; rejecting or asking for more information does not (an incomplete claim must not wait forever)."""
    actor = common.staff(principal, common.REVIEW_ROLES)
    claim = common.claim_or_404(ports, claim_id)
    common.require_plan_city(principal, claim.plan_id)  # staff act only for their cities (issue #10)
    if decision != "approve" and not (reason or "").strip():
        raise BadRequest("CLAIM_REASON_REQUIRED", field="reason")
    if decision not in rules.DECISIONS_ON_INCOMPLETE and claim.status in rules.BEFORE_DECISION \
            and not claim.complete:
        missing = common.missing_documents(claim, ports.claims.documents(claim_id))
        raise RuleViolation("CLAIM_INCOMPLETE", missing=missing, missing_zh="、".join(
            MESSAGES[f"DOCUMENT_KIND_{k.upper()}"] for k in missing))
    path = rules.path_to(claim.status, rules.status_after(decision))
    changes: dict[str, Any] = {}
    facts: dict[str, Any] = {"decision": decision, "reason": reason}
    if decision == "approve":
        reviewed = bills if bills is not None else claim.bills
        policy = ports.claims.policy_for_claim(claim.policy_id)
        if policy is None:
            raise NotFound("POLICY_NOT_FOUND")
        common.check_bills_in_benefit_period(policy, reviewed, now.date())
        common.unpaid_bill_fingerprints(ports, claim_id, claim.policy_id, reviewed)
        estimate = common.compute(ports, policy, reviewed)
        changes = {"reviewed_bills": reviewed, "approved_fen": estimate.payout_fen, "approved_at": iso(now),
                   "approved_by": actor.id, "approved_ytd_before": common.figures(estimate.year_to_date_before)}
        facts["approved_fen"] = estimate.payout_fen
    note = reason.strip() if reason and reason.strip() else None
    if note is not None:
        changes["member_note"] = note
    after = claim.moved(path, iso(now), **changes)
    audit = StaffAudit(claim_id=claim_id, seq=after.version, at=iso(now), action="review", by=actor, facts=facts)
    try:
        ports.claims.transition(claim, after, common.events_for(claim, path, actor, now, note), audit)
    except ConditionFailed:
        raise Conflict("CLAIM_CHANGED") from None
    common.notify(ports, claim, path[-1], note)
    return get_for_staff(ports, principal, claim_id, now.date())
