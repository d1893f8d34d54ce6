"""Claims in flight when a person recovers their identity (issue #10 item 1): those the account that lost the
identity filed for the person and that await a decision go to staff review; nothing else moves."""
from __future__ import annotations

from chalicelib.services import claims
from chalicelib.services.claims.recovery import send_to_review
from tests.claim_helpers import NOW
from tests.services import test_claims_service as service_tests
from tests.services.test_claims_service import REVIEWER, _submit

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
