"""Submitting a claim (POST /v1/claims), and the claim the system creates from a settlement record (免申即享).

A claim is created in one transaction (claim, its first timeline entry, the idempotency record). A bill already
paid on the policy is refused here, before the member is shown an estimate that would never be paid (409
CLAIM_BILL_ALREADY_PAID); approval and payment check again, since another claim may be paid meanwhile.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from chalicelib.adapters.clock import iso
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import Actor, Bill, Claim, ClaimEvent, ClaimPolicy, Outcome, Payee
from chalicelib.domain.errors import RuleViolation
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts
from chalicelib.services.claims.queries import claim_view


def submit(ports: ClaimPorts, principal, policy_id: str, bills: list[Bill], payee: dict[str, str],
           idempotency_key: str, request_hash: str, now: datetime) -> tuple[int, dict]:
    """POST /v1/claims by the insured or an account holding their `claims` authorisation."""
    scope = f"{principal.account_id}#claims.submit"
    done = ports.claims.outcome(scope, idempotency_key, request_hash)
    if done is not None:
        return done.status, done.body
    policy, roles = ports.claimants.policy_for_claimant(principal, policy_id)
    view = create_claim(ports, policy, common.member(principal, roles), bills, payee, now, requires_documents=True,
                        idempotency=(scope, idempotency_key, request_hash))
    return 201, view


def create_claim(ports: ClaimPorts, policy: ClaimPolicy, actor: Actor, bills: list[Bill],
                 payee: dict[str, str] | None, now: datetime, *, requires_documents: bool,
                 idempotency: tuple[str, str, str] | None = None) -> dict:
    """Create a claim in one transaction and return its view. A system actor (免申即享, settlement records pushed by
    the 医保 platform) creates claims with `requires_documents=False`: they are complete at once."""
    if policy.status != "active":
        raise RuleViolation("CLAIM_POLICY_INACTIVE", status=policy.status)
    common.check_bills_in_benefit_period(policy, bills, now.date())
    common.unpaid_bill_fingerprints(ports, None, policy.policy_id, bills)
    estimate = common.compute(ports, policy, bills)
    claim_id = uuid.uuid4().hex
    submitted_at = iso(now)
    claim = Claim(
        claim_id=claim_id, policy_id=policy.policy_id, plan_id=policy.plan_id, insured_hash=policy.insured_hash,
        insured_name=policy.insured_name, claimant_kind="member" if actor.kind == "member" else "system",
        claimant_account_id=actor.id if actor.kind == "member" else None, claimant_role=actor.role,
        status="submitted", version=1, bills=bills, estimate_fen=estimate.payout_fen,
        estimate_ytd_before=common.figures(estimate.year_to_date_before), requires_documents=requires_documents,
        submitted_at=submitted_at, updated_at=submitted_at,
        payee=Payee(account_name=payee["account_name"], bank_name=payee["bank_name"],
                    account_number_masked=rules.mask_account_number(payee["account_number"])) if payee else None,
        payee_account_enc=ports.cipher.encrypt(payee["account_number"], common.BANK_ACCOUNT_CONTEXT)
        if payee else None)
    if not requires_documents:
        claim = common.completed(claim, now, common.deadline(ports, now.date()))
    event = ClaimEvent(claim_id=claim_id, seq=1, status="submitted", at=submitted_at, by=actor)
    view = claim_view(ports, claim, [], [event], for_staff=False, today=now.date(), estimate=estimate)
    outcome = None
    if idempotency is not None:
        scope, key, request_hash = idempotency
        outcome = Outcome(scope=scope, key=key, request_hash=request_hash, status=201, body=view,
                          resource_id=claim_id)
    ports.claims.create(claim, event, outcome)
    common.notify(ports, claim, "submitted", None)
    return view
