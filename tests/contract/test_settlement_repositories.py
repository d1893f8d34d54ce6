"""免申即享's storage, DynamoDB (moto) and the in-memory twins alike: settlement markers (once per record, the review
queue), the automatic claim created with its marker, the payout's settling transaction, payee accounts, the feed
cursor, and the policies of an insured person."""
from __future__ import annotations

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain.claim_models import SYSTEM, Claim, ClaimEvent, ClaimPayout, PayeeAccount, SettlementMark

AT = "2021-11-01T10:00:00+08:00"
LATER = "2021-11-02T10:00:00+08:00"


def _claim(**changes) -> Claim:
    fields = dict(claim_id="c1", policy_id="pol-1", plan_id="lishui-2021", insured_hash="h1", insured_name="王小明",
                  claimant_kind="system", claimant_role="system", channel="auto", settlement_id="S1",
                  status="submitted", version=1, requires_documents=False,
                  bills=[{"service_date": "2021-10-20", "setting": "inpatient", "self_pay_fen": 2_000_000,
                          "settlement_id": "S1"}], estimate_fen=150_000, submitted_at=AT, updated_at=AT)
    return Claim(**{**fields, **changes})


def _mark(settlement_id="S1", **changes) -> SettlementMark:
    return SettlementMark(**{"settlement_id": settlement_id, "outcome": "claimed", "at": AT, "claim_id": "c1",
                             **changes})


@pytest.fixture(params=["dynamodb", "memory"])
def stores(request):
    if request.param == "memory":
        from chalicelib.adapters.repositories.claims import InMemoryClaimRepository
        from chalicelib.adapters.repositories.feed_cursor import InMemoryFeedCursor
        from chalicelib.adapters.repositories.payees import InMemoryPayees
        from chalicelib.domain.claim_models import ClaimPolicy, YearToDateFigures

        repo = InMemoryClaimRepository()
        zero = YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0)
        for pid, start in (("pol-2", "2022-01-01"), ("pol-1", "2021-07-16")):
            repo.add_policy(ClaimPolicy(policy_id=pid, plan_id="lishui-2021", insured_hash="h1",
                                        benefit_start=start, coverage_end=start[:4] + "-12-31", year_to_date=zero))
        return repo, InMemoryPayees(), InMemoryFeedCursor()
    request.getfixturevalue("aws")
    from chalicelib import deps
    from chalicelib.adapters.repositories.claims import DynamoClaimRepository
    from chalicelib.adapters.repositories.feed_cursor import DynamoFeedCursor
    from chalicelib.adapters.repositories.payees import DynamoPayees

    table = deps.table()
    for pid, start in (("pol-2", "2022-01-01"), ("pol-1", "2021-07-16")):
        table.put({**keys.policy(pid), **keys.gsi_person("h1", "POLICY#lishui-2021"), "policy_id": pid,
                   "plan_id": "lishui-2021", "insured_hash": "h1", "benefit_start": start,
                   "coverage_end": start[:4] + "-12-31"})
    return DynamoClaimRepository(table), DynamoPayees(table), DynamoFeedCursor(table)


def test_a_record_is_marked_once_and_reads_back(stores):
    repo, _, _ = stores
    assert repo.settlement("S9") is None
    assert repo.mark_settlement(_mark("S9", outcome="no_policy", claim_id=None)) is True
    assert repo.mark_settlement(_mark("S9", outcome="review")) is False
    assert repo.settlement("S9").outcome == "no_policy"


def test_records_for_review_are_listed_oldest_first_until_resolved(stores):
    repo, _, _ = stores
    repo.mark_settlement(_mark("S2", outcome="review", at=LATER, reasons=["SETTLEMENT_SUMS_MISMATCH"],
                               details={"medfee_sumamt_fen": 100}))
    repo.mark_settlement(_mark("S1", outcome="review", reasons=["SETTLEMENT_MED_TYPE_UNKNOWN"]))
    repo.mark_settlement(_mark("S3", outcome="no_policy"))
    reviews = repo.settlement_reviews(10)
    assert [m.settlement_id for m in reviews] == ["S1", "S2"]
    assert reviews[1].details == {"medfee_sumamt_fen": 100}
    repo.resolve_settlement(reviews[0], "staff-1", LATER)
    assert [m.settlement_id for m in repo.settlement_reviews(10)] == ["S2"]


def test_an_automatic_claim_is_created_with_its_marker_once(stores):
    repo, _, _ = stores
    claim = _claim()
    event = ClaimEvent(claim_id="c1", seq=1, status="submitted", at=AT, by=SYSTEM)
    repo.create_from_settlement(claim, [event], _mark())
    with pytest.raises(ConditionFailed):  # the same record again, as another claim
        repo.create_from_settlement(_claim(claim_id="c2"), [event.model_copy(update={"claim_id": "c2"})],
                                    _mark())
    assert repo.get("c2") is None
    stored = repo.get("c1")
    assert (stored.channel, stored.settlement_id, stored.claimant_kind) == ("auto", "S1", "system")


def test_settling_a_payout_is_conditional_on_the_claim_read(stores):
    repo, _, _ = stores
    approved = _claim(status="approved", version=3,
                      payout=ClaimPayout(status="requested", amount_fen=150_000, idempotency_key="claim-c1"))
    repo.create_from_settlement(approved, [ClaimEvent(claim_id="c1", seq=1, status="submitted", at=AT, by=SYSTEM)],
                                _mark())
    paid = approved.moved(["paid"], LATER, paid_fen=150_000, paid_at=LATER,
                          payout=approved.payout.model_copy(update={"status": "succeeded"}))
    repo.settle_payout(approved, paid, [ClaimEvent(claim_id="c1", seq=4, status="paid", at=LATER, by=SYSTEM)], None)
    with pytest.raises(ConditionFailed):
        repo.settle_payout(approved, paid, [], None)
    assert repo.get("c1").payout.status == "succeeded"
    assert [c.claim_id for c in repo.in_status("paid")] == ["c1"]
    assert repo.in_status("approved") == []


def test_the_policies_of_an_insured_person_in_benefit_order(stores):
    repo, _, _ = stores
    assert [p.policy_id for p in repo.policies_of_insured("h1")] == ["pol-1", "pol-2"]
    assert repo.policies_of_insured("nobody") == []


def test_a_payee_account_reads_back_and_is_replaced(stores):
    _, payees, _ = stores
    assert payees.get("acc-1") is None
    first = PayeeAccount(account_id="acc-1", account_name="王小明", bank_name="工行", account_number_masked="6222****1234",
                         account_number_enc="enc1", updated_at=AT)
    payees.put(first)
    payees.put(first.model_copy(update={"bank_name": "农行", "updated_at": LATER}))
    assert payees.get("acc-1").bank_name == "农行"


def test_the_feed_cursor_only_moves_forward(stores):
    _, _, cursor = stores
    assert cursor.position() == 0
    assert cursor.advance(5, AT) is True
    assert cursor.advance(3, LATER) is False
    assert cursor.advance(5, LATER) is False
    assert cursor.position() == 5


def test_an_automatic_claim_created_paid_commits_the_year_to_date_state_in_the_same_transaction(stores):
    from chalicelib.adapters.repositories.claims import SettlementPayment
    from chalicelib.domain.claim_models import PaidBill, StaffAudit, YearToDateFigures

    repo, _, _ = stores
    [policy, _] = repo.policies_of_insured("h1")
    after = YearToDateFigures(deductible_used_fen=1_800_000, eligible_fen=200_000, paid_fen=150_000)
    payout = ClaimPayout(status="requested", amount_fen=150_000, idempotency_key="claim-c1")
    claim = _claim(status="approved", version=3, payout=payout, approved_by="system", approved_at=AT)
    events = [ClaimEvent(claim_id="c1", seq=n, status=s, at=AT, by=SYSTEM)
              for n, s in enumerate(("submitted", "under_review", "approved"), start=1)]
    payment = SettlementPayment(policy=policy, year_to_date_after=after,
                                paid_bills=[PaidBill(policy_id=policy.policy_id, fingerprint="f1", claim_id="c1",
                                                     paid_at=AT)],
                                audit=StaffAudit(claim_id="c1", seq=3, at=AT, action="auto_approve", by=SYSTEM))
    repo.create_from_settlement(claim, events, _mark(), payment)
    assert repo.policy_for_claim(policy.policy_id).year_to_date == after
    assert repo.paid_bills(policy.policy_id, ["f1"]) == {"f1": "c1"}
    # the policy's version moved: the same payment for another record is refused, writing nothing
    with pytest.raises(ConditionFailed):
        repo.create_from_settlement(claim.model_copy(update={"claim_id": "c2"}), [], _mark("S2"), payment)
    assert repo.get("c2") is None and repo.settlement("S2") is None
