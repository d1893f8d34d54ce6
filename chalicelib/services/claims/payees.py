"""The member's payee account (`PUT /v1/me/payee`): where automatic claims (免申即享) are paid, and where a claim
whose transfer failed is paid again.

Giving a payee sends every claim of the member (as the insured) that waited for one, and every claim whose transfer
failed, to the new account at once (a new attempt each, the same amounts; services/claims/payment.py). The account
number is stored encrypted and bound to the account id; answers show it masked.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import SYSTEM, PayeeAccount
from chalicelib.domain.errors import Forbidden
from chalicelib.services.claims import common, payment
from chalicelib.services.claims.ports import ClaimPorts

MAX_RESUMED = 20  # claims sent inline per request; any others are picked up by the payout sweep


def put(ports: ClaimPorts, principal, account_name: str, bank_name: str, account_number: str,
        now: datetime) -> dict[str, Any]:
    if principal.kind != "member":
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    stored = PayeeAccount(account_id=principal.account_id, account_name=account_name.strip(),
                          bank_name=bank_name.strip(), account_number_masked=rules.mask_account_number(account_number),
                          account_number_enc=ports.cipher.encrypt(account_number, common.PAYEE_CONTEXT,
                                                                  principal.account_id),
                          updated_at=iso(now))
    ports.payees.put(stored)
    resumed = resume_waiting(ports, principal.account_id, now)
    return {**_view(stored), "claims_resumed": resumed}


def get(ports: ClaimPorts, principal) -> dict[str, Any]:
    if principal.kind != "member":
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    stored = ports.payees.get(principal.account_id)
    if stored is None:
        return {"account_name": "", "bank_name": "", "account_number_masked": "", "source": "none"}
    return _view(stored)


def _view(stored: PayeeAccount) -> dict[str, Any]:
    return {"account_name": stored.account_name, "bank_name": stored.bank_name,
            "account_number_masked": stored.account_number_masked, "updated_at": stored.updated_at,
            "source": stored.source}


def resume_waiting(ports: ClaimPorts, account_id: str, now: datetime) -> int:
    """Send the claims of the account's insured person that wait for a payee or whose transfer failed."""
    insured_hash = ports.claimants.person_of_account(account_id)
    if insured_hash is None:
        return 0
    resumed = 0
    for claim in ports.claims.of_person(insured_hash):
        if resumed >= MAX_RESUMED:
            break
        payout = claim.payout
        if claim.status == "approved" and payout is not None and payout.status == "awaiting_payee":
            payment.commit_and_send(ports, claim, SYSTEM, now)
            resumed += 1
        elif claim.status == "payout_failed" and payout is not None and payout.status == "failed":
            payment.retry(ports, claim, SYSTEM, now)
            resumed += 1
    return resumed
