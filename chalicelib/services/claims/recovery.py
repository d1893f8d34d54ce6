"""Claims in flight when a person recovers their identity from another account (issue #10 item 1).

The account that had bound the person's ID may have claimed in their name, to its own payee account — itself, or
through someone it authorised (亲友代办: every proxy claim for the person was made under a grant that account gave, as
only the account holding the binding gives them). Once the person proves who they are:

- every such claim not yet decided goes to staff review (`under_review`), its timeline saying why, so no decision
  is taken on it without a person looking at who claimed and where the money would go;
- every such claim approved but not yet paid has its payment recalled (DOMAIN §7, `domain.claims.payment_recall`):
  with nothing committed it goes back to `under_review`; with its payment committed but no money moved (the
  transfer failed) it goes back to `under_review` with the year-to-date state and the paid-bill markers released
  in the same conditional transaction (`ClaimRepository.release_payment`), so nothing is lost or counted twice;
  with a transfer that may be with the gateway it is held (`payee_hold`): never cancelled, no further transfer
  sent for it, and the payout sweep (`resolve_hold`) settles it once the gateway says what became of the transfer —
  no transfer or a failed one: released as above; processing: still held; succeeded: `paid`, the hold kept as the
  staff's flag (the money went to the payee that account gave and must be recovered by hand).
  Automatic claims (免申即享) of the person with a payee already chosen are recalled the same way: their payee was
  the account's that held the identity when the payment was committed.

After a recall the claim's payee is cleared: a new approval pays the person's own payee account (or the
social-security-card account the platform reports), never the one the other account gave. The next payment
continues the recalled one's attempt numbers (`Claim.first_payout_attempt`): a transfer the gateway did not have
keeps its key, so one sent late under it can never be followed by a second one to another account.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import SYSTEM, Claim, PaidBill, PayeeHold, StaffAudit, bill_markers
from chalicelib.domain.messages import MESSAGES
from chalicelib.services.claims import common

_ATTEMPTS = 3  # a claim changed concurrently (a document verified, a withdrawal, a payment) is read again
_REASON = "identity_recovered"

# what an approval and a committed payment set on a claim, cleared when its payment is recalled
_APPROVAL_CLEARED = {"approved_fen": None, "approved_at": None, "approved_by": None, "approved_ytd_before": None,
                     "payout": None, "payee": None, "payee_account_enc": None, "ytd_before_payment": None,
                     "ytd_after_payment": None, "payee_hold": None}


def send_to_review(claims, insured_hash: str, lost_account_id: str, now: datetime) -> list[str]:
    """The ids of the person's claims, filed by `lost_account_id` or a proxy it authorised (or created by the system
    with a payee chosen), that await a decision or a payment; those not already under review are moved there (a payment recalled, see the
    module), or held when their transfer may be with the gateway."""
    sent: list[str] = []
    for claim in claims.of_person(insured_hash):
        if claim.status in rules.BEFORE_DECISION and _filed_under(claim, lost_account_id):
            if _to_review(claims, claim, now):
                sent.append(claim.claim_id)
        elif claim.status in rules.AWAITING_PAYMENT and _payee_untrusted(claim, lost_account_id):
            if recall_payment(claims, claim, now) is not None:
                sent.append(claim.claim_id)
    return sent


def _filed_under(claim: Claim, lost_account_id: str) -> bool:
    """Filed by that account, or by a proxy under a grant it gave."""
    return claim.claimant_kind == "member" and (claim.claimant_account_id == lost_account_id
                                                or claim.claimant_role == "proxy")


def _payee_untrusted(claim: Claim, lost_account_id: str) -> bool:
    if _filed_under(claim, lost_account_id):
        return True
    return claim.claimant_kind == "system" and claim.payee is not None


def _to_review(claims, claim: Claim | None, now: datetime) -> bool:
    note = MESSAGES["CLAIM_NOTE_IDENTITY_RECOVERED"]
    for _ in range(_ATTEMPTS):
        if claim is None or claim.status not in rules.BEFORE_DECISION:
            return False
        if claim.status == "under_review":
            return True
        path = rules.path_to(claim.status, "under_review")
        try:
            claims.transition(claim, claim.moved(path, iso(now)), common.events_for(claim, path, SYSTEM, now, note))
        except ConditionFailed:
            claim = claims.get(claim.claim_id)
            continue
        return True
    return False


def recall_payment(claims, claim: Claim, now: datetime) -> Claim | None:
    """Recall an approved, unpaid claim's payment without asking the gateway: back to review when no money can have
    moved, else held for the payout sweep. The claim as it then is, or None when it no longer awaits payment."""
    for _ in range(_ATTEMPTS):
        if claim is None:
            return None
        payout = claim.payout
        step = rules.payment_recall(claim.status, payout.status if payout else None, gateway_answered=False)
        try:
            if step == "none":
                return None
            if step == "recall":
                return _recall(claims, claim, now)
            if step == "release":
                return _release(claims, claim, now)
            return claim if claim.payee_hold is not None else _hold(claims, claim, now)
        except ConditionFailed:
            claim = claims.get(claim.claim_id)
    return None


def resolve_hold(ports, claim: Claim, now: datetime, record_transfer) -> Claim:
    """A held claim (the payout sweep, a staff `pay`, a gateway answer): ask the gateway what became of its
    transfer and act on it (see the module). Never sends a transfer. The claim as it then is. `record_transfer`
    (payment.apply, passed in so payment and recovery do not import each other) records a transfer still with the
    gateway or confirmed by it."""
    from chalicelib.adapters.payout import PayoutUnavailable

    for _ in range(_ATTEMPTS):
        payout = claim.payout
        transfer = None
        if payout is not None and payout.status in ("requested", "processing") and payout.idempotency_key:
            try:
                transfer = ports.payouts.find(payout.idempotency_key)
            except PayoutUnavailable:
                return claim  # the sweep asks again
        step = rules.payment_recall(claim.status, payout.status if payout else None,
                                    transfer.status if transfer else None)
        try:
            if step == "recall":
                return _recall(ports.claims, claim, now)
            if step == "release":
                return _release(ports.claims, claim, now, transfer)
        except ConditionFailed:
            claim = common.claim_or_404(ports, claim.claim_id)
            continue
        if step == "hold" and transfer is not None:
            return record_transfer(ports, claim, transfer, now)  # processing recorded; succeeded: paid, still held
        return claim
    return claim


def _note() -> str:
    return MESSAGES["CLAIM_NOTE_PAYMENT_RECALLED"]


def _audit(claim: Claim, after: Claim, at: str, action: str, **facts) -> StaffAudit:
    return StaffAudit(claim_id=claim.claim_id, seq=after.version, at=at, action=action, by=SYSTEM,
                      facts={"reason": _REASON, "approved_fen": claim.approved_fen, **facts})


def _recall(claims, claim: Claim, now: datetime) -> Claim:
    """Nothing committed (no payout, or awaiting a payee): back to review, the approval and the payee cleared."""
    at = iso(now)
    after = claim.moved([rules.RECALL], at, **_APPROVAL_CLEARED, member_note=_note())
    claims.transition(claim, after, common.events_for(claim, [rules.RECALL], SYSTEM, now, _note()),
                      _audit(claim, after, at, "payment_recalled"))
    return after


def _release(claims, claim: Claim, now: datetime, transfer=None) -> Claim:
    """A committed payment whose money did not move: back to review with the policy's year-to-date state and the
    paid-bill markers released in the claim's own conditional transaction. Raises ConditionFailed when the claim
    or the policy moved meanwhile (the caller reads again)."""
    at = iso(now)
    payout = claim.payout
    assert payout is not None
    if transfer is not None and transfer.status == "failed":
        payout = payout.model_copy(update={"status": "failed", "failure_code": transfer.failure_code,
                                           "transfer_id": transfer.transfer_id or None, "finished_at": at})
    policy = claims.policy_for_claim(claim.policy_id)
    if policy is None or claim.ytd_before_payment is None or claim.ytd_after_payment is None:
        raise ConditionFailed(["None"])  # not a payment this module can take back: left as it is
    released = policy.year_to_date.released(claim.ytd_before_payment, claim.ytd_after_payment)
    markers = [PaidBill(policy_id=claim.policy_id, fingerprint=m, claim_id=claim.claim_id, paid_at=at)
               for bill in (claim.reviewed_bills or claim.bills) for m in bill_markers(bill)]
    after = claim.moved([rules.RECALL], at, **_APPROVAL_CLEARED, recalled_payout=payout, member_note=_note())
    audit = _audit(claim, after, at, "payment_released", payout_fen=payout.amount_fen,
                   transfer_key=payout.idempotency_key, transfer_status=transfer.status if transfer else None,
                   policy_version=(policy.version or 0) + 1)
    claims.release_payment(claim, after, common.events_for(claim, [rules.RECALL], SYSTEM, now, _note()), audit,
                           policy, released, markers)
    return after


def _hold(claims, claim: Claim, now: datetime) -> Claim:
    """A transfer that may be with the gateway: held — never cancelled, nothing more sent; the sweep resolves it."""
    from chalicelib.services.limits import security_event

    at = iso(now)
    payout = claim.payout
    assert payout is not None
    after = claim.revised(at, payee_hold=PayeeHold(reason=_REASON, at=at, transfer_key=payout.idempotency_key))
    claims.transition(claim, after, [], _audit(claim, after, at, "payee_hold", transfer_key=payout.idempotency_key))
    security_event("claim_payee_held")
    return after
