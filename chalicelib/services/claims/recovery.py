"""Claims in flight when a person recovers their identity from another account (issue #10 item 1).

The account that had bound the person's ID may have claimed in their name, to its own payee account. Once the person
proves who they are, every such claim not yet decided goes to staff review (`under_review`), its timeline saying why,
so no decision is taken on it without a person looking at who claimed and where the money would go.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import SYSTEM
from chalicelib.domain.messages import MESSAGES
from chalicelib.services.claims import common

_ATTEMPTS = 3  # a claim changed concurrently (a document verified, a withdrawal) is read again


def send_to_review(claims, insured_hash: str, lost_account_id: str, now: datetime) -> list[str]:
    """The ids of the person's claims, filed by `lost_account_id`, that await a decision; those not already under
    review are moved there with a timeline note for staff."""
    note = MESSAGES["CLAIM_NOTE_IDENTITY_RECOVERED"]
    sent: list[str] = []
    for claim in claims.of_person(insured_hash):
        if claim.claimant_account_id != lost_account_id or claim.status not in rules.BEFORE_DECISION:
            continue
        for _ in range(_ATTEMPTS):
            if claim is None or claim.status not in rules.BEFORE_DECISION:
                break
            if claim.status == "under_review":
                sent.append(claim.claim_id)
                break
            path = rules.path_to(claim.status, "under_review")
            try:
                claims.transition(claim, claim.moved(path, iso(now)),
                                  common.events_for(claim, path, SYSTEM, now, note))
            except ConditionFailed:
                claim = claims.get(claim.claim_id)
                continue
            sent.append(claim.claim_id)
            break
    return sent
