"""Paying an approved claim through the payout port (DOMAIN §11.3, docs/payouts.md): staff-approved and automatic
claims alike.

1. **Commit** — ONE conditional transaction: the claim records its payout (`requested`, the amount, the transfer's
   idempotency key `claim-{claim_id}`), the policy's year-to-date state advances (its version is the condition; a
   concurrent payment makes this one re-read and recompute), the paid-bill markers go in (a bill is paid once per
   policy), with the staff audit entry and the caller's idempotency record. From here the amount is owed and never
   recomputed.
2. **Transfer** — the gateway is asked with that key: asking again can never pay twice.
3. **Outcome** — `succeeded` moves the claim to `paid` (the disclosure counters move in that transaction);
   `failed` moves it to `payout_failed`, a staff task in the queue, and the member is told to check the account;
   `processing` or no answer leaves it for the payout sweep, which looks the key up before asking again.

A claim with no payee account (an automatic claim whose member gave none and whose social-security-card account the
platform does not report) waits `approved` with `payout.status: awaiting_payee`; nothing is committed until the
member gives one (`PUT /v1/me/payee`). A retry after a failure is a new attempt (a new key, the same amount) to the
claim's payee as it is then (the member may have corrected it).

A claim held for its payee (`payee_hold`, services/claims/recovery.py: the person recovered their identity from the
account that claimed) is never sent a transfer: the sweep, a staff `pay` and a failed transfer's answer hand it to
`recovery.resolve_hold`, which asks the gateway and releases or keeps it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import (
    SYSTEM,
    Actor,
    Claim,
    ClaimPayout,
    Outcome,
    PaidBill,
    Payee,
    StaffAudit,
)
from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.messages import MESSAGES, message_for
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts
from chalicelib.services.claims.queries import claim_summary

SYSTEM_PAY_SCOPE = "SYSTEM#claims.pay"


# ---- the staff route ----------------------------------------------------------------------------------------------
def pay(ports: ClaimPorts, principal, claim_id: str, idempotency_key: str, now: datetime) -> tuple[int, dict]:
    """POST /v1/admin/claims/{claim_id}/pay: commit the payment and send the transfer; or, on a `payout_failed`
    claim, send it again. The answer shows the claim as it then is (`paid` when the bank confirmed at once)."""
    from chalicelib.services import idempotency

    actor = common.staff(principal, common.PAY_ROLES)
    scope = f"STAFF#{actor.id}#claims.pay"
    request_hash = idempotency.body_hash({"claim_id": claim_id})
    done = ports.claims.outcome(scope, idempotency_key, request_hash)
    if done is not None:  # the same request again: what the claim is now (the transfer may have confirmed since)
        return done.status, payment_view(common.claim_or_404(ports, claim_id), now)
    claim = common.claim_or_404(ports, claim_id)
    common.require_plan_city(principal, claim.plan_id)  # staff act only for their cities (issue #10)
    if claim.status == "paid":
        raise Conflict("CLAIM_ALREADY_PAID")
    if claim.status not in rules.AWAITING_PAYMENT:
        raise rules.state_conflict(claim.status, "paid")
    if claim.approved_by == actor.id:  # separation of duties: who approved does not pay
        raise Forbidden("CLAIM_PAYER_IS_APPROVER")
    outcome = Outcome(scope=scope, key=idempotency_key, request_hash=request_hash, status=200, body={},
                      resource_id=claim_id)
    if claim.status == "payout_failed":
        claim = retry(ports, claim, actor, now, outcome)
    elif claim.payment_committed:
        claim = sweep_one(ports, claim, now)  # already committed (another request): confirm, never pay twice
    else:
        claim = commit_and_send(ports, claim, actor, now, outcome)
    return 200, payment_view(claim, now)


def payment_view(claim: Claim, now: datetime) -> dict[str, Any]:
    view = {**claim_summary(claim, now.date())}
    if claim.ytd_before_payment is not None:
        view["ytd_before_payment"] = claim.ytd_before_payment.model_dump()
    if claim.ytd_after_payment is not None:
        view["ytd_after_payment"] = claim.ytd_after_payment.model_dump()
    return view


# ---- commit, transfer, outcome ------------------------------------------------------------------------------------
def commit_and_send(ports: ClaimPorts, claim: Claim, actor: Actor, now: datetime,
                    outcome: Outcome | None = None) -> Claim:
    """Commit the payment of an approved claim, then send its transfer. Returns the claim as it then is."""
    committed = commit(ports, claim, actor, now, outcome)
    if committed.payout is None or committed.payout.status != "requested":
        return committed
    return send(ports, committed, now)


def commit(ports: ClaimPorts, claim: Claim, actor: Actor, now: datetime, outcome: Outcome | None = None) -> Claim:
    """The payment's one transaction (see the module). Idempotent: a claim already committed is returned as is.
    An automatic claim with no payee is marked `awaiting_payee` instead (nothing committed)."""
    for _ in range(common.WRITE_ATTEMPTS):
        if claim.payment_committed:
            return claim
        if claim.status != "approved":
            raise rules.state_conflict(claim.status, "paid")
        at = iso(now)
        reviewed = claim.reviewed_bills or claim.bills
        prints = common.unpaid_bill_fingerprints(ports, claim.claim_id, claim.policy_id, reviewed)
        policy = ports.claims.policy_for_claim(claim.policy_id)
        if policy is None:
            raise NotFound("POLICY_NOT_FOUND")
        estimate = common.compute(ports, policy, reviewed)
        payee = payee_for(ports, claim)
        if payee is None:
            if estimate.payout_fen > 0:
                return _await_payee(ports, claim, now)
            payee = {}  # nothing to transfer: the year-to-date state still advances (e.g. the deductible)
        attempt = claim.first_payout_attempt  # after a recalled payment: continues its numbers (recovery.py)
        payout = ClaimPayout(status="requested", attempt=attempt, amount_fen=estimate.payout_fen,
                             idempotency_key=ClaimPayout.key(claim.claim_id, attempt), requested_at=at)
        after = claim.revised(at, **payee, payout=payout,
                               ytd_before_payment=common.figures(estimate.year_to_date_before),
                               ytd_after_payment=common.figures(estimate.year_to_date_after))
        audit = StaffAudit(claim_id=claim.claim_id, seq=after.version, at=at, action="pay", by=actor,
                           facts={"payout_fen": estimate.payout_fen, "approved_fen": claim.approved_fen,
                                  "transfer_key": payout.idempotency_key,
                                  "policy_version": (policy.version or 0) + 1})
        record = outcome or Outcome(scope=SYSTEM_PAY_SCOPE, key=claim.claim_id, request_hash=claim.claim_id,
                                    status=200, body={}, resource_id=claim.claim_id)
        try:
            ports.claims.pay(claim, after, [], audit, policy, after.ytd_after_payment,
                             [PaidBill(policy_id=claim.policy_id, fingerprint=f, claim_id=claim.claim_id, paid_at=at)
                              for f in prints], None,
                             record.model_copy(update={"body": {"claim_id": claim.claim_id}}))
        except ConditionFailed:
            claim = common.claim_or_404(ports, claim.claim_id)  # the policy or the claim moved: re-read, recompute
            continue
        return after
    raise Conflict("CLAIM_BUSY")


def send(ports: ClaimPorts, claim: Claim, now: datetime, policy=None, insured_account=common.UNKNOWN) -> Claim:
    """Ask the gateway for the committed transfer (its key makes a repeat harmless) and apply its answer."""
    from chalicelib.adapters.payout import PayoutRefused, PayoutUnavailable
    from chalicelib.domain.payout import Transfer
    from chalicelib.observability import logger

    payout = claim.payout
    assert payout is not None and payout.idempotency_key is not None
    if claim.payee_hold is not None:  # held for its payee: nothing more is sent (recovery.resolve_hold decides)
        logger().warning("transfer not sent: the claim is held for its payee", extra={"claim_id": claim.claim_id})
        return claim
    if payout.amount_fen == 0:  # nothing to transfer (e.g. the deductible took the bill): paid at once
        return apply(ports, claim, None, now, policy, insured_account)
    try:
        transfer = ports.payouts.transfer(_payee_of(ports, claim), payout.amount_fen, payout.idempotency_key,
                                          reference=claim.claim_id)
    except PayoutUnavailable:
        logger().warning("payout gateway unavailable; the sweep will look the transfer up",
                         extra={"claim_id": claim.claim_id, "attempt": payout.attempt})
        return claim
    except PayoutRefused as exc:  # refused outright: no transfer exists; staff must look at it
        logger().error("payout refused by the gateway", extra={"claim_id": claim.claim_id, "code": exc.code})
        transfer = Transfer(transfer_id="", idempotency_key=payout.idempotency_key, amount_fen=payout.amount_fen,
                            status="failed", failure_code="BANK_REJECTED", requested_at=now, finished_at=now)
    return apply(ports, claim, transfer, now, policy, insured_account)


def apply(ports: ClaimPorts, claim: Claim, transfer, now: datetime, policy=None,
          insured_account=common.UNKNOWN) -> Claim:
    """The gateway's answer on the claim, in one conditional transaction; a claim moved meanwhile is re-read
    (someone else applied it). `transfer` None: nothing to transfer (0 fen)."""
    from chalicelib.plans import get_plan
    from chalicelib.services import disclosure

    for _ in range(common.WRITE_ATTEMPTS):
        payout = claim.payout
        if payout is None or payout.status not in ("requested", "processing") or \
                (transfer is not None and transfer.idempotency_key != payout.idempotency_key):
            return claim  # already applied, or an answer to an earlier attempt
        at = iso(now)
        if transfer is not None and transfer.status == "processing":
            if payout.status == "processing" and payout.transfer_id == transfer.transfer_id:
                return claim
            after = claim.revised(at, payout=payout.model_copy(update={"status": "processing",
                                                                       "transfer_id": transfer.transfer_id}))
            events, counter, notice = [], None, None
        elif transfer is None or transfer.status == "succeeded":
            done = payout.model_copy(update={"status": "succeeded", "finished_at": at,
                                             "transfer_id": transfer.transfer_id if transfer else None})
            after = claim.moved(["paid"], at, paid_fen=payout.amount_fen, paid_at=at, payout=done)
            events = common.events_for(claim, ["paid"], SYSTEM, now, None)
            if policy is None or policy.policy_id != claim.policy_id:
                policy = ports.claims.policy_for_claim(claim.policy_id)  # its county and channel (disclosure)
            counter = disclosure.claim_paid_op(get_plan(claim.plan_id), policy, claim.claim_id, payout.amount_fen,
                                               without_application=claim.channel == "auto")
            notice = ("paid", MESSAGES["CLAIM_AUTO_PAID"] if claim.channel == "auto" else None)
        else:
            failed = payout.model_copy(update={"status": "failed", "failure_code": transfer.failure_code,
                                               "transfer_id": transfer.transfer_id or None, "finished_at": at})
            note = message_for("CLAIM_PAYOUT_FAILED_NOTE", reason=message_for(
                f"PAYOUT_FAILURE_{transfer.failure_code or 'BANK_REJECTED'}"))
            after = claim.moved(["payout_failed"], at, payout=failed, member_note=note)
            events = common.events_for(claim, ["payout_failed"], SYSTEM, now, note)
            counter, notice = None, ("payout_failed", note)
        try:
            ports.claims.settle_payout(claim, after, events, counter)
        except ConditionFailed:
            claim = common.claim_or_404(ports, claim.claim_id)
            continue
        if after.payee_hold is not None and after.status == "payout_failed":
            from chalicelib.services.claims import recovery

            return recovery.resolve_hold(ports, after, now, apply)  # no money moved: released to review, not retried
        if notice is not None:
            common.notify(ports, after, *notice, insured_account=insured_account)
        return after
    raise Conflict("CLAIM_BUSY")


def retry(ports: ClaimPorts, claim: Claim, actor: Actor, now: datetime, outcome: Outcome | None = None) -> Claim:
    """A `payout_failed` claim sent again: attempt + 1 (a new key), the same amount, the payee as it is now."""
    payout = claim.payout
    if payout is None:
        raise rules.state_conflict(claim.status, "paid")
    if claim.payee_hold is not None:  # never retried to a payee nobody trusts: released or kept held
        from chalicelib.services.claims import recovery

        return recovery.resolve_hold(ports, claim, now, apply)
    if payout.status in ("requested", "processing"):
        return sweep_one(ports, claim, now)  # a retry is already under way
    at = iso(now)
    found = payee_for(ports, claim, prefer_member=True) or {}
    attempt = payout.attempt + 1
    after = claim.revised(at, **found, payout=ClaimPayout(
        status="requested", attempt=attempt, amount_fen=payout.amount_fen,
        idempotency_key=ClaimPayout.key(claim.claim_id, attempt), requested_at=at))
    audit = StaffAudit(claim_id=claim.claim_id, seq=after.version, at=at, action="pay_retry", by=actor,
                       facts={"payout_fen": payout.amount_fen, "attempt": attempt,
                              "previous_failure": payout.failure_code})
    try:
        ports.claims.transition(claim, after, [], audit)
    except ConditionFailed:
        raise Conflict("CLAIM_CHANGED") from None
    return send(ports, after, now)


def sweep_one(ports: ClaimPorts, claim: Claim, now: datetime) -> Claim:
    """A committed payout whose outcome we do not know yet: look the transfer up by its key; ask again (same key)
    only if the gateway has none. Used by the payout sweep and by a repeated pay request."""
    from chalicelib.adapters.payout import PayoutUnavailable

    payout = claim.payout
    if payout is None or payout.status not in ("requested", "processing") or payout.idempotency_key is None:
        return claim
    if claim.payee_hold is not None:
        from chalicelib.services.claims import recovery

        return recovery.resolve_hold(ports, claim, now, apply)
    try:
        transfer = ports.payouts.find(payout.idempotency_key)
    except PayoutUnavailable:
        return claim
    if transfer is None:
        return send(ports, claim, now) if payout.status == "requested" else claim
    return apply(ports, claim, transfer, now)


# ---- payees --------------------------------------------------------------------------------------------------------
def payee_for(ports: ClaimPorts, claim: Claim, prefer_member: bool = False, *, policy=None,
              insured_account=common.UNKNOWN) -> dict[str, Any] | None:
    """Where an automatic claim is paid: the insured's own payee account (`PUT /v1/me/payee`), else the
    social-security-card account the platform reports. A claim made by hand keeps the payee it was made with,
    unless `prefer_member` (a retry after a failed transfer) finds the insured gave a newer one. As claim fields
    (`payee`, `payee_account_enc`), or None."""
    own = {"payee": claim.payee, "payee_account_enc": claim.payee_account_enc} \
        if claim.payee is not None and claim.payee_account_enc is not None else None
    if own is not None and not prefer_member:
        return own
    account_id = ports.claimants.account_of_insured(claim.insured_hash) if insured_account is common.UNKNOWN \
        else insured_account
    stored = ports.payees.get(account_id) if account_id else None
    if stored is not None:
        number = ports.cipher.decrypt(stored.account_number_enc, common.PAYEE_CONTEXT, stored.account_id)
        return _payee_fields(ports, stored.account_name, stored.bank_name, number)
    if own is not None:
        return own
    person = _platform_person(ports, claim, policy)
    ssc = getattr(person, "ssc_account", None) if person is not None else None
    if ssc is not None:
        return _payee_fields(ports, person.name, ssc.bank_name, ssc.account_number)
    return None


def _payee_fields(ports: ClaimPorts, name: str, bank: str, number: str) -> dict[str, Any]:
    return {"payee": Payee(account_name=name, bank_name=bank, account_number_masked=rules.mask_account_number(number)),
            "payee_account_enc": ports.cipher.encrypt(number, common.BANK_ACCOUNT_CONTEXT)}


def _platform_person(ports: ClaimPorts, claim: Claim, policy=None):
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    if policy is None or policy.policy_id != claim.policy_id:
        policy = ports.claims.policy_for_claim(claim.policy_id)
    if policy is None or not policy.insured_id_enc:
        return None
    try:
        return ports.platform.find_person(ports.cipher.decrypt(policy.insured_id_enc, "id_number"))
    except (PlatformUnavailable, PlatformError):
        return None


def _payee_of(ports: ClaimPorts, claim: Claim):
    from chalicelib.domain.payout import Payee as TransferPayee

    assert claim.payee is not None and claim.payee_account_enc is not None
    return TransferPayee(account_name=claim.payee.account_name, bank_name=claim.payee.bank_name,
                         account_number=ports.cipher.decrypt(claim.payee_account_enc, common.BANK_ACCOUNT_CONTEXT))


def _await_payee(ports: ClaimPorts, claim: Claim, now: datetime) -> Claim:
    if claim.payout is not None and claim.payout.status == "awaiting_payee":
        return claim
    note = message_for("CLAIM_PAYEE_NEEDED")
    after = claim.revised(iso(now), payout=ClaimPayout(status="awaiting_payee", amount_fen=claim.approved_fen or 0),
                          member_note=note)
    try:
        ports.claims.transition(claim, after, [])
    except ConditionFailed:
        return common.claim_or_404(ports, claim.claim_id)
    common.notify(ports, after, "approved", note)
    return after
