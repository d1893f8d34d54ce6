"""Claim use cases (理赔, DOMAIN §7), one module per family:

- `submission` — submit (POST /v1/claims) and the claims the system creates from settlement records;
- `documents`  — register a document, verify it (the client's call, or the bucket's upload event);
- `decisions`  — withdraw; staff review;
- `payment`    — paying an approved claim through the payout port (commit, transfer, outcome, sweep);
- `automatic`  — 免申即享: a settlement record of the 医保 platform into a claim, approved and paid by the system;
- `queries`    — the member's list and a claim's file, the staff queue, overdue claims;
- `calendar`   — the official calendar an operator loads, and the deadlines it recomputes;
- `claimants`  — who may act on whose claims, by the access rules (the real `Claimants`).

Each takes the complete `ClaimPorts` bundle (built in `deps.claim_ports`), speaks the claim models of
`domain/claim_models.py`, and stores them through the ClaimRepository. Time comes in as `now`.
"""
from chalicelib.domain.claim_models import SYSTEM
from chalicelib.services.claims.calendar import load_official_year, reschedule_open_claims
from chalicelib.services.claims.common import MAX_DOCUMENTS_PER_CLAIM
from chalicelib.services.claims.decisions import review, withdraw
from chalicelib.services.claims.documents import add_document, verify_document, verify_uploaded
from chalicelib.services.claims.payment import pay
from chalicelib.services.claims.ports import ClaimPorts
from chalicelib.services.claims.queries import (
    claim_summary,
    get_for_member,
    get_for_staff,
    list_for_member,
    overdue_claims,
    staff_queue,
)
from chalicelib.services.claims.submission import create_claim, submit

__all__ = ["MAX_DOCUMENTS_PER_CLAIM", "SYSTEM", "ClaimPorts", "add_document", "claim_summary", "create_claim",
           "get_for_member", "get_for_staff", "list_for_member", "load_official_year", "overdue_claims", "pay",
           "reschedule_open_claims", "review", "staff_queue", "submit", "verify_document", "verify_uploaded",
           "withdraw"]
