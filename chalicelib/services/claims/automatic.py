"""免申即享 (DOMAIN §11): one settlement record of the 医保 platform into a claim nobody had to make.

For a record of a person with an active policy whose benefit period contains the service date: the record is
checked and mapped (domain/settlement.py, the plan's mapping), a claim is created with `claimant: system`, channel
`auto` and no documents (complete at once), approved by the system up to the plan's `auto_approve_max_fen` and
paid through the payout port to the member's payee (services/claims/payment.py); above it, the claim waits in the
staff queue like any other. A record that does not add up pays nothing and waits for staff (`GET
/v1/admin/settlement-reviews`).

Exactly once per `settlement_id`: the record's marker goes into the transaction that creates the claim (or records
the skip or the review), so a record delivered twice, or read by two overlapping runs, does nothing twice. A record
seen again continues what a crash interrupted (approve, commit, transfer) and never starts it twice.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import (
    SYSTEM,
    Claim,
    ClaimEvent,
    ClaimPolicy,
    SettlementMark,
    StaffAudit,
    bill_markers,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.masking import mask_name
from chalicelib.domain.platform import Settlement
from chalicelib.domain.resident_id import mask as mask_id_number
from chalicelib.domain.settlement import ForReview, SlipBill, from_sandbox, to_bill
from chalicelib.services.claims import common, payment
from chalicelib.services.claims.ports import ClaimPorts

Counts = dict[str, int]


def from_settlement(ports: ClaimPorts, record: Settlement, now: datetime) -> Counts:
    """Act on one record; the counts of the `settlement_feed` job (`read`, `created`, `paid`, `review`,
    `skipped`). Raises only for what must be tried again (the platform or storage unavailable)."""
    seen = ports.claims.settlement(record.settlement_id)
    if seen is not None:
        return {"read": 1, **_continue(ports, seen, now)}
    at = iso(now)
    mark = SettlementMark(settlement_id=record.settlement_id, outcome="no_policy", at=at, seq=record.seq,
                          service_date=record.service_date)
    policy = _policy_covering(ports, record)
    if policy is None:  # no cover for that day: nothing to do, and nothing to tell (we are not their insurer)
        ports.claims.mark_settlement(mark)
        return {"read": 1, "skipped": 1}
    from chalicelib.plans import get_plan

    plan = get_plan(policy.plan_id)
    mark = mark.model_copy(update={"policy_id": policy.policy_id, "plan_id": policy.plan_id,
                                   "insured_name_masked": mask_name(policy.insured_name or ""),
                                   "id_number_masked": mask_id_number(record.id_number)})
    slip = _slip(record, plan)
    if isinstance(slip, ForReview):
        ports.claims.mark_settlement(mark.model_copy(update={"outcome": "review", "reasons": list(slip.reasons),
                                                             "details": dict(slip.details)}))
        _log_review(record, slip.reasons)
        return {"read": 1, "review": 1}
    bill = _bill(slip)
    try:
        common.unpaid_bill_fingerprints(ports, None, policy.policy_id, [bill])
    except Conflict:  # the member claimed this bill by hand and it was paid: nothing more to pay
        ports.claims.mark_settlement(mark.model_copy(update={"outcome": "already_claimed"}))
        return {"read": 1, "skipped": 1}
    estimate = common.compute(ports, policy, [bill])
    claim_id = uuid.uuid4().hex
    claim = Claim(claim_id=claim_id, policy_id=policy.policy_id, plan_id=policy.plan_id,
                  insured_hash=policy.insured_hash, insured_name=policy.insured_name, claimant_kind="system",
                  claimant_role=SYSTEM.role, channel="auto", settlement_id=record.settlement_id,
                  unplaced=list(slip.unplaced), status="submitted", version=1, bills=[bill],
                  estimate_fen=estimate.payout_fen, estimate_ytd_before=common.figures(estimate.year_to_date_before),
                  requires_documents=False, submitted_at=at, updated_at=at)
    claimed = mark.model_copy(update={"outcome": "claimed", "claim_id": claim_id})
    created = ClaimEvent(claim_id=claim_id, seq=1, status="submitted", at=at, by=SYSTEM, note=_created_note(claim))
    insured_account = ports.claimants.account_of_insured(policy.insured_hash)
    if estimate.payout_fen > plan.auto_claims.auto_approve_max_fen:  # staff decide, like any claim
        claim = common.completed(claim, now, common.deadline(ports, now.date()))
        if not _create(ports, claim, [created], claimed):
            return {"read": 1, "skipped": 1}
        common.notify(ports, claim, "submitted", created.note, insured_account=insured_account)
        return {"read": 1, "created": 1, "review": 1}
    return {"read": 1, "created": 1, **_approve_and_pay(ports, claim, created, claimed, policy, estimate, bill,
                                                         insured_account, now)}


def _approve_and_pay(ports: ClaimPorts, claim: Claim, created: ClaimEvent, claimed: SettlementMark,
                     policy: ClaimPolicy, estimate, bill: dict[str, Any], insured_account, now: datetime) -> Counts:
    """Within the plan's limit the system decides at once: the claim is created approved with its payment committed
    — claim, timeline, the record's marker, the policy's year-to-date state, the paid-bill markers and the audit in
    ONE transaction — and then the transfer is sent. With no payee (and something to pay) it is created approved,
    waiting for one, and the member is told how to give one."""
    from chalicelib.adapters.repositories.claims import SettlementPayment
    from chalicelib.domain.claim_models import ClaimPayout, PaidBill
    from chalicelib.domain.messages import message_for

    at = iso(now)
    path = ["under_review", "approved"]
    decided = claim.model_copy(update={"completed_at": at, "decision_due": now.date()})
    approved = decided.moved(path, at, reviewed_bills=[bill], approved_fen=estimate.payout_fen, approved_at=at,
                             approved_by=SYSTEM.id, approved_ytd_before=common.figures(estimate.year_to_date_before))
    events = [created, *common.events_for(claim, path, SYSTEM, now, None)]
    payee = payment.payee_for(ports, approved, policy=policy, insured_account=insured_account)
    if payee is None and estimate.payout_fen > 0:
        note = message_for("CLAIM_PAYEE_NEEDED")
        waiting = approved.model_copy(update={"member_note": note, "payout": ClaimPayout(
            status="awaiting_payee", amount_fen=estimate.payout_fen)})
        if not _create(ports, waiting, events, claimed):
            return {"skipped": 1}
        common.notify(ports, waiting, "approved", note, insured_account=insured_account)
        return {}
    payout = ClaimPayout(status="requested", amount_fen=estimate.payout_fen,
                         idempotency_key=ClaimPayout.key(claim.claim_id, 1), requested_at=at)
    committed = approved.model_copy(update={**(payee or {}), "payout": payout,
                                            "ytd_before_payment": common.figures(estimate.year_to_date_before),
                                            "ytd_after_payment": common.figures(estimate.year_to_date_after)})
    audit = StaffAudit(claim_id=claim.claim_id, seq=committed.version, at=at, action="auto_approve_and_pay",
                       by=SYSTEM, facts={"approved_fen": estimate.payout_fen, "settlement_id": claim.settlement_id,
                                         "transfer_key": payout.idempotency_key,
                                         "policy_version": (policy.version or 0) + 1})
    commitment = SettlementPayment(
        policy=policy, year_to_date_after=committed.ytd_after_payment, audit=audit,
        paid_bills=[PaidBill(policy_id=policy.policy_id, fingerprint=m, claim_id=claim.claim_id, paid_at=at)
                    for m in bill_markers(bill)])
    if not _create(ports, committed, events, claimed, commitment):
        return {"skipped": 1}
    final = payment.send(ports, committed, now, policy=policy, insured_account=insured_account)
    return {"paid": 1} if final.status == "paid" else {}


def _create(ports: ClaimPorts, claim: Claim, events: list[ClaimEvent], mark: SettlementMark,
            commitment=None) -> bool:
    """False when the record was acted on meanwhile (another delivery got there first). A refusal for any other
    reason (the policy's year-to-date state moved under a concurrent payment) raises, so the item is tried again
    and recomputed."""
    try:
        ports.claims.create_from_settlement(claim, events, mark, commitment)
    except ConditionFailed:
        if ports.claims.settlement(mark.settlement_id) is not None:
            return False
        raise
    return True


def _continue(ports: ClaimPorts, seen: SettlementMark, now: datetime) -> Counts:
    """A record seen before: finish what its claim still needs (a crash between steps), never redo a step."""
    if seen.outcome != "claimed" or seen.claim_id is None:
        return {"skipped": 1}
    claim = ports.claims.get(seen.claim_id)
    if claim is None or claim.status not in ("submitted", "under_review", "approved"):
        return {"skipped": 1}  # done (paid, or decided by staff): nothing left to do
    from chalicelib.plans import get_plan

    advanced = _advance(ports, claim, get_plan(claim.plan_id).auto_claims.auto_approve_max_fen, now)
    return {"skipped": 1, **{k: v for k, v in advanced.items() if k == "paid"}}


def _advance(ports: ClaimPorts, claim: Claim, auto_max_fen: int, now: datetime) -> Counts:
    """Approve by the system when the plan allows, then pay; a claim above the plan's limit waits for staff."""
    if claim.status in ("submitted", "under_review") and claim.claimant_kind == "system":
        if claim.estimate_fen > auto_max_fen:
            return {"review": 1} if claim.status == "submitted" else {}
        claim = _approve(ports, claim, now)
    if claim.status == "approved" and claim.approved_by == SYSTEM.id:
        claim = payment.sweep_one(ports, claim, now) if claim.payment_committed else \
            payment.commit_and_send(ports, claim, SYSTEM, now)
    return {"paid": 1} if claim.status == "paid" else {}


def _approve(ports: ClaimPorts, claim: Claim, now: datetime) -> Claim:
    policy = ports.claims.policy_for_claim(claim.policy_id)
    assert policy is not None
    estimate = common.compute(ports, policy, claim.bills)
    at = iso(now)
    path = rules.path_to(claim.status, "approved")
    after = claim.moved(path, at, reviewed_bills=claim.bills, approved_fen=estimate.payout_fen, approved_at=at,
                        approved_by=SYSTEM.id, approved_ytd_before=common.figures(estimate.year_to_date_before))
    audit = StaffAudit(claim_id=claim.claim_id, seq=after.version, at=at, action="auto_approve", by=SYSTEM,
                       facts={"approved_fen": estimate.payout_fen, "settlement_id": claim.settlement_id})
    try:
        ports.claims.transition(claim, after, common.events_for(claim, path, SYSTEM, now, None), audit)
    except ConditionFailed:
        return common.claim_or_404(ports, claim.claim_id)  # moved meanwhile (another delivery): take it as it is
    return after


def _policy_covering(ports: ClaimPorts, record: Settlement) -> ClaimPolicy | None:
    insured_hash = ports.cipher.lookup_hash(record.id_number)
    for policy in ports.claims.policies_of_insured(insured_hash):
        if policy.status == "active" and policy.benefit_start <= record.service_date <= policy.coverage_end:
            return policy
    return None


def _slip(record: Settlement, plan) -> SlipBill | ForReview:
    if record.national is not None:
        return to_bill(record.national, plan.auto_claims.mapping)
    if record.setting is None:
        return ForReview(settlement_id=record.settlement_id, reasons=("SETTLEMENT_MED_TYPE_UNKNOWN",))
    amounts = {k.removesuffix("_fen"): int(v) for k, v in record.amounts_fen.items()}
    return from_sandbox(record.settlement_id, record.service_date, record.setting, amounts)


def _bill(slip: SlipBill) -> dict[str, Any]:
    return {"service_date": slip.service_date.isoformat(), "setting": slip.setting,
            "settlement_id": slip.settlement_id, **{f"{c}_fen": v for c, v in sorted(slip.amounts_fen.items()) if v}}


def _created_note(claim: Claim) -> str:
    from chalicelib.domain.messages import MESSAGES

    note = MESSAGES["CLAIM_AUTO_CREATED"]
    return note + MESSAGES["AUTO_CLAIM_UNPLACED"] if claim.unplaced else note


def _log_review(record: Settlement, reasons) -> None:
    from chalicelib.observability import logger

    logger().warning("settlement record sent to staff review", extra={"settlement_id": record.settlement_id,
                                                                       "reasons": list(reasons)})


# ---- staff: records waiting for review -----------------------------------------------------------------------------
def reviews(ports: ClaimPorts, principal, limit: int = 50) -> list[dict[str, Any]]:
    """GET /v1/admin/settlement-reviews: records that did not add up, oldest first, masked."""
    from chalicelib.domain.messages import message_for
    from chalicelib.domain.principal import acts_for_city
    from chalicelib.plans import get_plan

    common.staff(principal, common.REVIEW_ROLES | {"bureau"})
    out = []
    for mark in ports.claims.settlement_reviews(limit):
        if mark.plan_id and not acts_for_city(principal, get_plan(mark.plan_id).city):
            continue
        out.append({**mark.model_dump(mode="json", exclude={"resolved_at", "resolved_by"}),
                    "reasons_zh": [message_for(r, **mark.details) for r in mark.reasons]})
    return out
