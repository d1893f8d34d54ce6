"""Claims in flight when a person recovers their identity (issue #10 item 1): those the account that lost the
identity filed for the person and that await a decision go to staff review; those approved but unpaid have their
payment recalled — back to review with the year-to-date state and bill markers released, or held while a transfer
is with the gateway — so the money never goes to the payee that account gave, and is never counted twice."""
from __future__ import annotations

import pytest

from chalicelib.domain.claim_models import YearToDateFigures
from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import MESSAGES
from chalicelib.domain.principal import Principal
from chalicelib.services import claims
from chalicelib.services.claims import payees, payment
from chalicelib.services.claims.recovery import recall_payment as payment_recall
from chalicelib.services.claims.recovery import send_to_review
from tests.claim_helpers import NOW, PAYEE
from tests.services import test_claims_service as service_tests
from tests.services.test_claims_service import ADMIN, REVIEWER, _approved, _run_together, _submit

world = service_tests.world  # the claim service tests' fixture: a policy of `acc-insured`, the ports on twins

LOST = "acc-insured"  # the account that had bound the person (the claimant in `world`)


class StaleReads:
    """The repository, but listing the person's claims as they were before a concurrent change."""

    def __init__(self, repo, stale) -> None:
        self.repo, self.stale = repo, stale

    def of_person(self, insured_hash):
        return self.stale

    def __getattr__(self, name):
        return getattr(self.repo, name)


def test_a_claim_awaiting_a_decision_goes_to_staff_review_with_a_note(world):
    claim_id = _submit(world)

    assert send_to_review(world.repo, "hash-insured", LOST, NOW) == [claim_id]

    claim = world.repo.get(claim_id)
    assert claim.status == "under_review"


def test_claims_another_account_filed_do_not_move(world):
    claim_id = _submit(world)

    assert send_to_review(world.repo, "hash-insured", "acc-someone-else", NOW) == []
    assert world.repo.get(claim_id).status == "submitted"


def test_a_claim_changed_meanwhile_is_read_again_and_still_sent(world):
    claim_id = _submit(world)
    stale = [world.repo.get(claim_id)]
    claims.review(world.ports, REVIEWER, claim_id, "need_more_info", None, "请补充发票", NOW)

    assert send_to_review(StaleReads(world.repo, stale), "hash-insured", LOST, NOW) == [claim_id]
    assert world.repo.get(claim_id).status == "under_review"


def test_a_decided_claim_stays_decided(world):
    claim_id = _submit(world)
    claims.review(world.ports, REVIEWER, claim_id, "reject", None, "不在保障范围", NOW)

    assert send_to_review(world.repo, "hash-insured", LOST, NOW) == []
    assert world.repo.get(claim_id).status == "rejected"


# ---- approved but unpaid: the payment is recalled (DOMAIN §7, services/claims/recovery.py) -------------------------
REAL = Principal("member", "acc-real")  # the person, who proved who they are
REAL_PAYEE = ("王小明", "中国建设银行丽水分行", "6217000000000001")
IMPOSTOR_ACCOUNT = PAYEE["account_number"]  # the payee the claim was filed with


def _recovered(world) -> list[str]:
    """The binding passes to the person's own account (as services.identity does), who gives their payee; then the
    claims the other account filed are recalled."""
    world.ports.claimants.insured(REAL.account_id, world.repo.policies[world.policy_id])
    world.ports.claimants.roles.pop((LOST, world.policy_id), None)
    sent = send_to_review(world.repo, "hash-insured", LOST, NOW)
    payees.put(world.ports, REAL, *REAL_PAYEE, NOW)  # resumes nothing recalled: staff decide first
    return sent


def _sent_to(world) -> list[str]:
    return [number for number, _ in world.ports.payouts._requests.values()]


def _ytd(world):
    return world.repo.policy_for_claim(world.policy_id).year_to_date


def test_an_approved_unpaid_claim_goes_back_to_review_and_is_never_paid_to_the_payee_it_was_filed_with(world):
    claim_id = _approved(world)

    assert _recovered(world) == [claim_id]

    claim = world.repo.get(claim_id)
    assert (claim.status, claim.approved_fen, claim.payee, claim.payout) == ("under_review", None, None, None)
    assert world.repo.get_whole(claim_id)[2][-1].note == MESSAGES["CLAIM_NOTE_PAYMENT_RECALLED"]
    assert [a.action for a in world.repo.audits if a.claim_id == claim_id][-1] == "payment_recalled"
    with pytest.raises(Conflict):  # nothing to pay until staff decide again
        claims.pay(world.ports, ADMIN, claim_id, "pay-after-recall", NOW)
    assert _sent_to(world) == [] and _ytd(world).paid_fen == 0

    claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)
    paid = claims.pay(world.ports, ADMIN, claim_id, "pay-after-review", NOW)[1]

    assert (paid["status"], paid["paid_fen"]) == ("paid", 150_000)
    assert _sent_to(world) == [REAL_PAYEE[2]]  # the person's own account
    assert _ytd(world).paid_fen == 150_000


def test_a_failed_transfer_is_released_with_the_year_to_date_state_and_bill_markers_in_one_transaction(world):
    world.ports.payouts.refuse_account(IMPOSTOR_ACCOUNT, "ACCOUNT_FROZEN")
    claim_id = _approved(world)
    assert claims.pay(world.ports, ADMIN, claim_id, "pay-to-frozen", NOW)[1]["status"] == "payout_failed"
    assert _ytd(world).paid_fen == 150_000 and world.repo.markers  # committed: owed from here

    assert _recovered(world) == [claim_id]

    claim = world.repo.get(claim_id)
    assert (claim.status, claim.payout, claim.recalled_payout.status) == ("under_review", None, "failed")
    assert _ytd(world) == YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0)
    assert world.repo.markers == {}  # the bill may be paid again, once
    assert world.repo.policy_for_claim(world.policy_id).version == 3  # paid, then released: each moved it once

    claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)
    paid = claims.pay(world.ports, ADMIN, claim_id, "pay-after-release", NOW)[1]

    assert (paid["status"], paid["payout"]["attempt"]) == ("paid", 2)  # a new key after the failed one
    assert _sent_to(world) == [IMPOSTOR_ACCOUNT, REAL_PAYEE[2]]  # the refused attempt, then the person's
    assert (_ytd(world).deductible_used_fen, _ytd(world).paid_fen) == (1_800_000, 150_000)  # counted once


def test_a_transfer_with_the_gateway_is_held_not_cancelled_and_staff_see_it_when_it_succeeds(world):
    world.ports.payouts.hold()  # the bank has not confirmed yet
    claim_id = _approved(world)
    assert claims.pay(world.ports, ADMIN, claim_id, "pay-processing", NOW)[1]["payout"]["status"] == "processing"

    assert _recovered(world) == [claim_id]

    held = world.repo.get(claim_id)
    assert (held.status, held.payout.status, held.payee_hold.reason) == ("approved", "processing",
                                                                        "identity_recovered")
    assert world.ports.payouts.transfers[held.payout.idempotency_key].status == "processing"  # not cancelled
    assert payment.sweep_one(world.ports, held, NOW).status == "approved"  # still processing: still held

    world.ports.payouts.complete_pending()
    done = payment.sweep_one(world.ports, world.repo.get(claim_id), NOW)

    assert (done.status, done.payee_hold.reason) == ("paid", "identity_recovered")  # the money went: staff's flag
    view = claims.get_for_staff(world.ports, ADMIN, claim_id, NOW.date())
    assert view["payee_hold"]["message"] == MESSAGES["PAYEE_HOLD_IDENTITY_RECOVERED"]
    assert "payee_hold" not in claims.get_for_member(world.ports, REAL, claim_id, NOW.date())
    assert len(world.ports.payouts.transfers) == 1 and _ytd(world).paid_fen == 150_000  # once


def test_a_held_transfer_that_then_fails_is_released_not_retried(world):
    world.ports.payouts.hold()
    world.ports.payouts.refuse_account(IMPOSTOR_ACCOUNT, "ACCOUNT_INVALID")
    claim_id = _approved(world)
    claims.pay(world.ports, ADMIN, claim_id, "pay-processing", NOW)
    _recovered(world)

    world.ports.payouts.complete_pending()  # the bank refuses the account
    after = payment.sweep_one(world.ports, world.repo.get(claim_id), NOW)

    assert (after.status, after.recalled_payout.failure_code) == ("under_review", "ACCOUNT_INVALID")
    assert _ytd(world).paid_fen == 0 and world.repo.markers == {}
    assert len(world.ports.payouts.transfers) == 1  # no retry to that account


def test_a_committed_payment_the_gateway_never_got_is_held_then_released_by_the_sweep(world):
    world.ports.payouts.fail_next("transfer", "before")  # the commit ran, the transfer request timed out
    claim_id = _approved(world)
    assert claims.pay(world.ports, ADMIN, claim_id, "pay-timeout", NOW)[1]["payout"]["status"] == "requested"

    _recovered(world)
    held = world.repo.get(claim_id)
    assert held.payee_hold is not None
    assert payment.send(world.ports, held, NOW) == held  # a held claim is sent nothing
    released = payment.sweep_one(world.ports, held, NOW)  # the gateway has no transfer for the key

    assert (released.status, released.recalled_payout.status) == ("under_review", "requested")
    assert world.ports.payouts.transfers == {} and _ytd(world).paid_fen == 0


def test_a_transfer_sent_late_under_the_recalled_key_is_never_followed_by_a_second_one(world):
    """A sender that read the claim before the hold sends after the release: the person's payment keeps the recalled
    key, so the gateway refuses a second transfer under it — the money goes out once, and staff see the failure."""
    world.ports.payouts.fail_next("transfer", "before")
    claim_id = _approved(world)
    claims.pay(world.ports, ADMIN, claim_id, "pay-timeout", NOW)
    stale = world.repo.get(claim_id)  # a sweep read this, then stalled
    _recovered(world)
    payment.sweep_one(world.ports, world.repo.get(claim_id), NOW)  # released
    payment.send(world.ports, stale, NOW)  # the stalled sender wakes up and asks the gateway

    claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)
    after = claims.pay(world.ports, ADMIN, claim_id, "pay-after-release", NOW)[1]

    assert len(world.ports.payouts.transfers) == 1  # one transfer in all, under the one key
    assert (after["status"], after["payout"]["attempt"]) == ("payout_failed", 1)  # staff look at it


def test_an_automatic_claim_committed_to_a_payee_is_recalled_too(world):
    world.ports.payouts.hold()
    claim_id = _approved(world)
    claims.pay(world.ports, ADMIN, claim_id, "pay-processing", NOW)
    system = world.repo.get(claim_id).model_copy(update={"claimant_kind": "system", "claimant_account_id": None,
                                                         "claimant_role": "system"})
    world.repo.claims[claim_id] = system

    assert _recovered(world) == [claim_id]
    assert world.repo.get(claim_id).payee_hold is not None


def test_a_recall_racing_a_payment_leaves_the_money_counted_once(world):
    claim_id = _approved(world)
    claim = world.repo.get(claim_id)
    world.ports.claimants.insured(REAL.account_id, world.repo.policies[world.policy_id])
    results, errors = _run_together(lambda: claims.pay(world.ports, ADMIN, claim_id, "pay-racing", NOW),
                                    lambda: payment_recall(world.repo, claim, NOW))
    stored = world.repo.get(claim_id)
    assert stored.status in ("paid", "under_review")
    paid = world.ports.payouts.transfers
    assert _ytd(world).paid_fen == (150_000 if stored.status == "paid" else 0)
    assert len(paid) == (1 if stored.status == "paid" else 0)
    assert all(isinstance(e, Conflict) for e in errors)


def test_a_recall_reads_the_policy_again_when_another_payment_moved_it(world):
    world.ports.payouts.refuse_account(IMPOSTOR_ACCOUNT, "ACCOUNT_FROZEN")
    claim_id = _approved(world)
    claims.pay(world.ports, ADMIN, claim_id, "pay-to-frozen", NOW)
    stale = world.repo.get(claim_id)
    policy = world.repo.policies[world.policy_id]
    other = YearToDateFigures(deductible_used_fen=1_800_000, eligible_fen=300_000, paid_fen=225_000)
    world.repo.policies[world.policy_id] = policy.model_copy(update={"year_to_date": other,
                                                                     "version": policy.version + 1})

    assert payment_recall(world.repo, stale, NOW).status == "under_review"
    assert _ytd(world) == YearToDateFigures(deductible_used_fen=0, eligible_fen=100_000, paid_fen=75_000)


def test_a_claim_a_proxy_made_under_that_accounts_grant_is_recalled_too(world):
    proxy = Principal("member", "acc-proxy")
    world.ports.claimants.proxy(proxy.account_id, world.repo.policies[world.policy_id])
    _, view = claims.submit(world.ports, proxy, world.policy_id, [service_tests.SMALL_BILL], PAYEE, "proxy-claim-1",
                            "proxy-request-1", NOW)
    claim_id = view["claim_id"]
    for kind in ("invoice", "settlement_slip"):
        document = claims.add_document(world.ports, proxy, claim_id, kind, "application/pdf", 1000, NOW)
        claims.verify_document(world.ports, proxy, claim_id, document["document_id"], NOW)
    claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)

    assert _recovered(world) == [claim_id]
    assert world.repo.get(claim_id).status == "under_review"
