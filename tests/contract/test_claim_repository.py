"""The claim and calendar repositories: the DynamoDB one (moto) and its in-memory twin pass the same tests
(chalice todo-app tests/test_db.py pattern), so service tests on the twin say something about production."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.adapters.repositories.grants import DynamoGrantRepository
from chalicelib.domain.claim_models import (
    SYSTEM,
    Actor,
    Claim,
    ClaimEvent,
    ClaimPolicy,
    Document,
    Outcome,
    PaidBill,
    StaffAudit,
    YearToDateFigures,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.grant import Grant
from chalicelib.domain.working_days import OfficialYear

MEMBER = Actor(kind="member", id="acc-1", role="insured")
REVIEWER = Actor(kind="staff", id="rev-1", role="claims_reviewer")
AT = "2021-11-01T10:00:00+08:00"
LATER = "2021-11-02T10:00:00+08:00"
ZERO = YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0)


def _claim(claim_id="c1", **changes) -> Claim:
    fields = dict(claim_id=claim_id, policy_id="pol-1", plan_id="lishui-2021", insured_hash="h1",
                  insured_name="王小明", claimant_kind="member", claimant_account_id="acc-1", claimant_role="insured",
                  status="submitted", version=1,
                  bills=[{"service_date": "2021-10-20", "setting": "inpatient", "self_pay_fen": 2_000_000}],
                  estimate_fen=150_000, estimate_ytd_before=ZERO, submitted_at=AT, updated_at=AT)
    return Claim(**{**fields, **changes})


def _event(claim: Claim, status: str, actor=MEMBER, note=None) -> ClaimEvent:
    return ClaimEvent(claim_id=claim.claim_id, seq=claim.version, status=status, at=claim.updated_at, note=note,
                      by=actor)


def _doc(claim_id="c1", document_id="d1", kind="invoice", status="awaiting_upload") -> Document:
    return Document(document_id=document_id, claim_id=claim_id, kind=kind, content_type="application/pdf",
                    size_bytes=1000, s3_key=f"claims/{claim_id}/{document_id}", status=status, created_at=AT,
                    by=MEMBER)


POLICY = ClaimPolicy(policy_id="pol-1", plan_id="lishui-2021", insured_hash="h1", insured_name="王小明",
                     status="active", benefit_start=date(2021, 7, 16), coverage_end=date(2021, 12, 31),
                     county="331102", payment_method="wechat", payer_account_id="acc-3", year_to_date=ZERO, version=1)


@pytest.fixture(params=["dynamodb", "memory"])
def repo(request):
    if request.param == "memory":
        from chalicelib.adapters.repositories.claims import InMemoryClaimRepository

        twin = InMemoryClaimRepository()
        twin.add_policy(POLICY)
        return twin
    request.getfixturevalue("aws")
    from chalicelib import deps
    from chalicelib.adapters.repositories.claims import DynamoClaimRepository

    table = deps.table()
    table.put({**keys.policy("pol-1"), "policy_id": "pol-1", "plan_id": "lishui-2021", "insured_hash": "h1",
               "insured_name": "王小明", "status": "active", "benefit_start": "2021-07-16",
               "coverage_end": "2021-12-31", "county": "331102", "payment_method": "wechat", "premium_fen": 9900,
               "ytd_deductible_used_fen": 0, "ytd_eligible_fen": 0, "ytd_paid_fen": 0, "version": 1})
    return DynamoClaimRepository(table)


@pytest.fixture(params=["dynamodb", "memory"])
def calendar(request):
    if request.param == "memory":
        from chalicelib.adapters.repositories.calendar import InMemoryCalendarRepository

        return InMemoryCalendarRepository()
    request.getfixturevalue("aws")
    from chalicelib import deps
    from chalicelib.adapters.repositories.calendar import DynamoCalendarRepository

    return DynamoCalendarRepository(deps.table())


class TestClaimRepository:
    def test_a_created_claim_reads_back_whole_with_its_first_timeline_entry(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        assert repo.get("c1") == claim
        whole = repo.get_whole("c1")
        assert whole == (claim, [], [_event(claim, "submitted")])
        assert repo.of_person("h1") == [claim] and repo.of_person("h2") == []
        assert repo.get("nope") is None and repo.get_whole("nope") is None

    def test_creating_the_same_claim_twice_is_refused(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        with pytest.raises(ConditionFailed):
            repo.create(claim, _event(claim, "submitted"))

    def test_the_outcome_stored_with_a_claim_answers_the_same_key_and_refuses_another_body(self, repo):
        claim = _claim()
        outcome = Outcome(scope="acc-1#claims.submit", key="k-12345678", request_hash="h", status=201,
                          body={"claim_id": "c1"}, resource_id="c1")
        repo.create(claim, _event(claim, "submitted"), outcome)
        found = repo.outcome("acc-1#claims.submit", "k-12345678", "h")
        assert (found.status, found.body) == (201, {"claim_id": "c1"})
        assert repo.outcome("acc-1#claims.submit", "k-other-1", "h") is None
        with pytest.raises(Conflict) as caught:
            repo.outcome("acc-1#claims.submit", "k-12345678", "another body")
        assert caught.value.code == "IDEMPOTENCY_KEY_REUSED"

    def test_documents_are_counted_and_refused_past_the_limit_or_after_a_decision(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        repo.add_document(_doc(document_id="d1"), max_documents=2)
        repo.add_document(_doc(document_id="d2"), max_documents=2)
        with pytest.raises(ConditionFailed):
            repo.add_document(_doc(document_id="d3"), max_documents=2)
        assert [d.document_id for d in repo.documents("c1")] == ["d1", "d2"]
        assert repo.get("c1").document_count == 2
        rejected = claim.moved(["under_review", "rejected"], LATER)
        repo.transition(claim, rejected, [])
        with pytest.raises(ConditionFailed):
            repo.add_document(_doc(document_id="d4"), max_documents=40)

    def test_a_transition_is_refused_when_the_claim_moved_meanwhile_and_writes_nothing(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        approved = claim.moved(["under_review", "approved"], LATER, approved_at=LATER, approved_fen=150_000,
                               approved_by="rev-1")
        audit = StaffAudit(claim_id="c1", seq=3, at=LATER, action="review", by=REVIEWER, facts={"decision": "approve"})
        repo.transition(claim, approved, [_event(approved, "approved", REVIEWER)], audit)
        with pytest.raises(ConditionFailed):
            repo.transition(claim, claim.moved(["withdrawn"], LATER, member_note="不需要了"),
                            [ClaimEvent(claim_id="c1", seq=2, status="withdrawn", at=LATER, by=MEMBER)])
        stored, _, events = repo.get_whole("c1")
        assert (stored.status, stored.version, stored.member_note) == ("approved", 3, None)
        assert [e.status for e in events] == ["submitted", "approved"]

    def test_a_document_count_moved_by_an_upload_survives_a_decision_read_before_it(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        repo.add_document(_doc(), max_documents=40)  # after `claim` was read
        repo.transition(claim, claim.moved(["under_review"], LATER), [])
        assert repo.get("c1").document_count == 1

    def test_verification_is_refused_for_a_document_already_verified(self, repo):
        claim = _claim()
        repo.create(claim, _event(claim, "submitted"))
        repo.add_document(_doc(), max_documents=40)
        claim = repo.get("c1")
        verified = _doc(status="verified").model_copy(update={"verified_at": LATER})
        after = claim.model_copy(update={"version": 2, "completed_at": LATER, "decision_due": date(2021, 11, 23)})
        repo.verify(claim, after, verified)
        assert repo.get("c1").decision_due == date(2021, 11, 23)
        assert repo.documents("c1")[0].status == "verified"
        with pytest.raises(ConditionFailed):
            repo.verify(after, after.model_copy(update={"version": 3}), verified)

    def test_the_staff_queue_orders_by_deadline_then_payment_then_incomplete_and_pages(self, repo):
        incomplete, late, early = _claim("c-inc"), _claim("c-late"), _claim("c-early")
        for c in (incomplete, late, early):
            repo.create(c, _event(c, "submitted"))
        for c, due in ((late, date(2021, 11, 30)), (early, date(2021, 11, 22))):
            repo.reschedule(c, c.model_copy(update={"version": 2, "completed_at": AT, "decision_due": due}))
        first = repo.queue_page("submitted", None, 2)
        assert [c.claim_id for _, c in first] == ["c-early", "c-late"]
        rest = repo.queue_page("submitted", first[-1][0], 2)
        assert [c.claim_id for _, c in rest] == ["c-inc"]
        assert [c.claim_id for c in repo.due_by("submitted", date(2021, 11, 22))] == ["c-early"]
        assert [c.claim_id for c in repo.with_deadline("submitted")] == ["c-early", "c-late"]

    def test_paying_advances_the_policy_once_and_marks_its_bills(self, repo):
        claim = _claim(status="approved", version=3, approved_at=AT, approved_fen=150_000, approved_by="rev-1",
                       reviewed_bills=_claim().bills)
        repo.create(claim, _event(claim, "approved", REVIEWER))
        policy = repo.policy_for_claim("pol-1")
        assert (policy.year_to_date, policy.version) == (ZERO, 1)
        after_ytd = YearToDateFigures(deductible_used_fen=1_800_000, eligible_fen=200_000, paid_fen=150_000)
        paid = claim.moved(["paid"], LATER, paid_fen=150_000, paid_at=LATER, ytd_after_payment=after_ytd)
        admin = Actor(kind="staff", id="admin-1", role="insurer_admin")
        args = dict(events=[_event(paid, "paid", admin)],
                    audit=StaffAudit(claim_id="c1", seq=4, at=LATER, action="pay", by=admin),
                    policy=policy, year_to_date_after=after_ytd,
                    paid_bills=[PaidBill(policy_id="pol-1", fingerprint="f1", claim_id="c1", paid_at=LATER)],
                    counter_op=None,
                    outcome=Outcome(scope="STAFF#admin-1#claims.pay", key="pay-12345678", request_hash="h",
                                    status=200, body={"paid_fen": 150_000}))
        repo.pay(claim, paid, **args)
        assert repo.policy_for_claim("pol-1").year_to_date == after_ytd
        assert repo.policy_for_claim("pol-1").version == 2
        assert repo.paid_bills("pol-1", ["f1", "f2"]) == {"f1": "c1"}
        assert repo.get("c1").status == "paid"
        with pytest.raises(ConditionFailed):  # the claim and the policy moved: the same payment cannot apply again
            repo.pay(claim, paid, **args)
        assert repo.policy_for_claim("pol-1").year_to_date.paid_fen == 150_000

    def test_a_payment_on_a_policy_version_read_before_another_payment_is_refused(self, repo):
        claim = _claim(status="approved", version=3, approved_at=AT, reviewed_bills=_claim().bills)
        repo.create(claim, _event(claim, "approved", REVIEWER))
        stale = POLICY.model_copy(update={"version": 0})
        paid = claim.moved(["paid"], LATER, paid_fen=1)
        with pytest.raises(ConditionFailed):
            repo.pay(claim, paid, [], StaffAudit(claim_id="c1", seq=4, at=LATER, action="pay", by=REVIEWER), stale,
                     ZERO, [], None, Outcome(scope="s", key="k-12345678", request_hash="h", status=200, body={}))
        assert repo.get("c1").status == "approved"
        assert repo.paid_bills("pol-1", ["f1"]) == {}

    def test_releasing_a_payment_takes_back_its_year_to_date_share_and_its_markers_at_once(self, repo):
        claim = _claim(status="approved", version=3, approved_at=AT, approved_fen=150_000, approved_by="rev-1",
                       reviewed_bills=_claim().bills)
        repo.create(claim, _event(claim, "approved", REVIEWER))
        after_ytd = YearToDateFigures(deductible_used_fen=1_800_000, eligible_fen=200_000, paid_fen=150_000)
        admin = Actor(kind="staff", id="admin-1", role="insurer_admin")
        committed = claim.revised(LATER, ytd_before_payment=ZERO, ytd_after_payment=after_ytd)
        marker = PaidBill(policy_id="pol-1", fingerprint="f1", claim_id="c1", paid_at=LATER)
        repo.pay(claim, committed, [], StaffAudit(claim_id="c1", seq=4, at=LATER, action="pay", by=admin),
                 repo.policy_for_claim("pol-1"), after_ytd, [marker], None,
                 Outcome(scope="s", key="k-12345678", request_hash="h", status=200, body={}))
        recalled = committed.moved(["under_review"], LATER, ytd_before_payment=None, ytd_after_payment=None)
        audit = StaffAudit(claim_id="c1", seq=5, at=LATER, action="payment_released", by=SYSTEM)
        stale = repo.policy_for_claim("pol-1").model_copy(update={"version": 1})

        with pytest.raises(ConditionFailed):  # the policy moved since it was read: nothing is released
            repo.release_payment(committed, recalled, [], audit, stale, ZERO, [marker])
        assert (repo.get("c1").status, repo.paid_bills("pol-1", ["f1"])) == ("approved", {"f1": "c1"})

        policy = repo.policy_for_claim("pol-1")
        repo.release_payment(committed, recalled, [_event(recalled, "under_review", SYSTEM)], audit, policy, ZERO,
                             [marker])
        assert repo.get("c1").status == "under_review" and repo.get("c1").ytd_after_payment is None
        assert (repo.policy_for_claim("pol-1").year_to_date, repo.policy_for_claim("pol-1").version) == (ZERO, 3)
        assert repo.paid_bills("pol-1", ["f1"]) == {}
        assert repo.get_whole("c1")[2][-1].status == "under_review"
        with pytest.raises(ConditionFailed):  # released once: the claim moved on
            repo.release_payment(committed, recalled, [], audit, repo.policy_for_claim("pol-1"), ZERO, [marker])

    def test_a_marker_another_claim_put_is_never_released(self, repo):
        claim = _claim(status="approved", version=3, approved_at=AT, reviewed_bills=_claim().bills)
        repo.create(claim, _event(claim, "approved", REVIEWER))
        other = _claim("c2", status="approved", version=3, approved_at=AT, reviewed_bills=_claim().bills)
        repo.create(other, _event(other, "approved", REVIEWER))
        theirs = PaidBill(policy_id="pol-1", fingerprint="f1", claim_id="c2", paid_at=LATER)
        repo.pay(other, other.revised(LATER), [], StaffAudit(claim_id="c2", seq=4, at=LATER, action="pay", by=REVIEWER),
                 repo.policy_for_claim("pol-1"), ZERO, [theirs], None,
                 Outcome(scope="s", key="k-22345678", request_hash="h", status=200, body={}))
        mine = theirs.model_copy(update={"claim_id": "c1"})
        with pytest.raises(ConditionFailed):
            repo.release_payment(claim, claim.moved(["under_review"], LATER), [],
                                 StaffAudit(claim_id="c1", seq=4, at=LATER, action="payment_released", by=SYSTEM),
                                 repo.policy_for_claim("pol-1"), ZERO, [mine])
        assert repo.paid_bills("pol-1", ["f1"]) == {"f1": "c2"} and repo.get("c1").status == "approved"

    def test_a_system_claim_has_no_member_claimant(self, repo):
        claim = _claim("c-sys", claimant_kind="system", claimant_account_id=None, claimant_role="system",
                       requires_documents=False)
        repo.create(claim, ClaimEvent(claim_id="c-sys", seq=1, status="submitted", at=AT, by=SYSTEM))
        assert repo.get("c-sys").claimant_account_id is None
        assert repo.get_whole("c-sys")[2][0].by == SYSTEM


class TestCalendarRepository:
    def test_a_loaded_year_reads_back_and_a_later_notice_replaces_it(self, calendar):
        first = OfficialYear.of(2027, [date(2027, 1, 1)], [])
        calendar.put_year(first, "admin-1", AT)
        assert calendar.years([2026, 2027]) == {2027: first}
        second = OfficialYear.of(2027, [date(2027, 1, 1), date(2027, 2, 8)], [date(2027, 2, 20)])
        calendar.put_year(second, "bureau-1", LATER)
        assert calendar.years([2027]) == {2027: second}
        assert calendar.years([]) == {}


@pytest.fixture(params=["dynamodb", "memory"])
def claimants(request):
    """The insured (acc-1, person h1) of pol-1; a daughter (acc-2, phone 13700000002) holding h1's `claims` grant;
    a payer-only account (acc-3) of the same policy without it."""
    if request.param == "memory":
        from chalicelib.adapters.repositories.claimants import InMemoryClaimants

        twin = InMemoryClaimants()
        twin.insured("acc-1", POLICY)
        twin.proxy("acc-2", POLICY)
        return twin
    request.getfixturevalue("aws")
    from chalicelib import deps
    from chalicelib.adapters.repositories.claims import DynamoClaimRepository
    from chalicelib.services.claims.claimants import TableClaimants

    table = deps.table()
    table.put({**keys.account("acc-1"), "account_id": "acc-1", "person_hash": "h1", "phone": "13700000001"})
    table.put({**keys.identity_binding("h1"), "account_id": "acc-1"})
    table.put({**keys.account("acc-2"), "account_id": "acc-2", "phone": "13700000002"})
    table.put({**keys.account("acc-3"), "account_id": "acc-3", "phone": "13700000003"})
    table.put({**keys.policy("pol-1"), "policy_id": "pol-1", "plan_id": "lishui-2021", "insured_hash": "h1",
               "insured_name": "王小明", "payer_account_id": "acc-3", "status": "active",
               "benefit_start": "2021-07-16", "coverage_end": "2021-12-31", "county": "331102",
               "payment_method": "wechat", "ytd_deductible_used_fen": 0, "ytd_eligible_fen": 0, "ytd_paid_fen": 0,
               "version": 1})
    DynamoGrantRepository(table).add(Grant(authorization_id="g1", grantor_hash="h1", grantee_phone="13700000002",
                                            scopes=["claims"], created_at="2021-04-15T10:00:00+08:00"))
    return TableClaimants(deps.access_ports(), DynamoClaimRepository(table))


class TestClaimants:
    def test_the_insured_and_a_claims_grantee_may_claim_on_the_policy(self, claimants):
        from chalicelib.api.auth import Principal

        policy, roles = claimants.policy_for_claimant(Principal("member", "acc-1"), "pol-1")
        assert (policy, "insured" in roles, "claims" in roles) == (POLICY, True, True)
        policy, roles = claimants.policy_for_claimant(Principal("member", "acc-2"), "pol-1")
        assert ("insured" in roles, "claims" in roles) == (False, True)

    def test_a_payer_without_the_grant_and_an_unknown_policy_are_404(self, claimants):
        from chalicelib.api.auth import Principal
        from chalicelib.domain.errors import NotFound

        for principal, policy_id in ((Principal("member", "acc-3"), "pol-1"), (Principal("member", "acc-1"), "nope")):
            with pytest.raises(NotFound) as caught:
                claimants.policy_for_claimant(principal, policy_id)
            assert caught.value.code == "POLICY_NOT_FOUND"

    def test_whom_each_account_handles_and_whom_to_notify(self, claimants):
        from chalicelib.api.auth import Principal

        assert claimants.persons_handled(Principal("member", "acc-1")) == {"h1"}
        assert claimants.persons_handled(Principal("member", "acc-2")) == {"h1"}
        assert claimants.persons_handled(Principal("member", "acc-3")) == set()
        assert (claimants.account_of_insured("h1"), claimants.account_of_insured("h9")) == ("acc-1", None)
