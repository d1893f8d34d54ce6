"""Claim use cases on the in-memory twins (ClaimRepository, CalendarRepository, Claimants): concurrency, the claim
loop of #13 (paid bill refused at submission, decisions on incomplete claims, resumed review, the upload event),
system-created claims, and the official calendar."""
from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.documents import StoredObject
from chalicelib.adapters.repositories.calendar import InMemoryCalendarRepository
from chalicelib.adapters.repositories.claims import InMemoryClaimRepository, queue_sort_key
from chalicelib.domain.claim_models import ClaimPolicy, YearToDateFigures
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, RuleViolation
from chalicelib.domain.principal import Principal
from chalicelib.services import claims
from chalicelib.services.claims.ports import InMemoryClaimants
from tests.claim_helpers import NOW, PAYEE

SMALL_BILL = {"service_date": "2021-10-20", "setting": "inpatient", "self_pay_fen": 2_000_000}
INSURED = Principal("member", "acc-insured")
STRANGER = Principal("member", "acc-stranger")
REVIEWER = Principal("staff", "reviewer-1", "claims_reviewer")
ADMIN = Principal("staff", "admin-1", "insurer_admin")
BUREAU = Principal("staff", "bureau-1", "bureau")


class FakeDocuments:
    """Documents port double: every object 'uploaded' exactly as declared unless told otherwise."""

    max_bytes = 10 * 1024 * 1024

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.upload_on_form = True

    def upload_form(self, key, content_type, size_bytes):
        from chalicelib.adapters.documents import UploadForm

        if self.upload_on_form:
            self.objects[key] = StoredObject(content_type, size_bytes)
        return UploadForm(url="https://s3.test/upload", fields={"key": key}, expires_in=900)

    def download_url(self, key):
        return f"https://s3.test/{key}"

    def head(self, key):
        return self.objects.get(key)


class FixedClock:
    def now(self):
        return NOW


class BrokenNotifier:
    def notify(self, *args, **kwargs):
        raise RuntimeError("notice service down")


@dataclass
class World:
    ports: claims.ClaimPorts
    repo: InMemoryClaimRepository
    calendar: InMemoryCalendarRepository
    documents: FakeDocuments
    policy_id: str


def _policy(**changes) -> ClaimPolicy:
    fields = dict(policy_id="pol-1", plan_id="lishui-2021", insured_hash="hash-insured", insured_name="王小明",
                  status="active", benefit_start=date(2021, 7, 16), coverage_end=date(2021, 12, 31),
                  county="331102", payment_method="wechat",
                  year_to_date=YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0), version=1)
    return ClaimPolicy(**{**fields, **changes})


@pytest.fixture()
def world():
    from chalicelib.adapters.crypto import FieldCipher
    from chalicelib.adapters.notifications import RecordingNotifier
    from chalicelib.adapters.payout import SimulatedPayouts
    from chalicelib.adapters.repositories.payees import InMemoryPayees

    repo, calendar, documents = InMemoryClaimRepository(), InMemoryCalendarRepository(), FakeDocuments()
    claimants = InMemoryClaimants(policies=repo.policies)  # one store of policies, as the table is one
    claimants.insured("acc-insured", _policy())
    ports = claims.ClaimPorts(claims=repo, claimants=claimants, calendar=calendar, documents=documents,
                              notifier=RecordingNotifier(FixedClock()),
                              cipher=FieldCipher(os.urandom(32), os.urandom(32)), platform=None,
                              payouts=SimulatedPayouts(FixedClock()), payees=InMemoryPayees())
    return World(ports, repo, calendar, documents, "pol-1")


def _submit(world, bills=None, key=None, now=NOW):
    _, view = claims.submit(world.ports, INSURED, world.policy_id, bills or [SMALL_BILL], PAYEE,
                            key or uuid.uuid4().hex, uuid.uuid4().hex, now)
    return view["claim_id"]


def _document(world, claim_id, kind, now=NOW):
    return claims.add_document(world.ports, INSURED, claim_id, kind, "application/pdf", 1000, now)["document_id"]


def _complete(world, claim_id, now=NOW):
    for kind in ("invoice", "settlement_slip"):
        claims.verify_document(world.ports, INSURED, claim_id, _document(world, claim_id, kind, now), now)


def _approved(world, bills=None) -> str:
    claim_id = _submit(world, bills)
    _complete(world, claim_id)
    claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)
    return claim_id


def _run_together(*calls):
    """Start every call at the same moment; return (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(fn):
        barrier.wait()
        try:
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 — collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


# ---- concurrency (all-or-nothing writes) -------------------------------------------------------------------------
def test_two_claims_of_one_policy_paid_concurrently_both_advance_the_year_to_date_state(world):
    first, second = _approved(world), _approved(world, [dict(SMALL_BILL, service_date="2021-10-21")])
    results, errors = _run_together(lambda: claims.pay(world.ports, ADMIN, first, "pay-key-first", NOW),
                                    lambda: claims.pay(world.ports, ADMIN, second, "pay-key-second", NOW))
    assert errors == []
    policy = world.repo.policy_for_claim(world.policy_id)
    # As if paid one after the other: the deductible is used once, the second pays 75% of all 2,000,000.
    assert (policy.year_to_date.deductible_used_fen, policy.year_to_date.eligible_fen,
            policy.year_to_date.paid_fen, policy.version) == (1_800_000, 2_200_000, 1_650_000, 3)
    assert sorted(body["paid_fen"] for _, body in results) == [150_000, 1_500_000]
    assert len(world.repo.counter_ops) == 2  # the disclosure counters moved with each payment, once


def test_paying_again_with_the_same_key_answers_the_first_payment(world):
    claim_id = _approved(world)
    first = claims.pay(world.ports, ADMIN, claim_id, "pay-key-once", NOW)
    assert claims.pay(world.ports, ADMIN, claim_id, "pay-key-once", NOW) == first
    with pytest.raises(Conflict) as caught:
        claims.pay(world.ports, ADMIN, claim_id, "pay-key-other", NOW)
    assert caught.value.code == "CLAIM_ALREADY_PAID"
    assert world.repo.policy_for_claim(world.policy_id).year_to_date.paid_fen == 150_000


def test_two_reviewers_deciding_at_once_one_wins_and_the_other_gets_409(world):
    claim_id = _submit(world)
    _complete(world, claim_id)
    other = Principal("staff", "reviewer-2", "claims_reviewer")
    results, errors = _run_together(
        lambda: claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW),
        lambda: claims.review(world.ports, other, claim_id, "reject", None, "不符合条件", NOW))
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict)
    stored = world.repo.get(claim_id)
    assert stored.status == results[0]["status"]
    assert [e["status"] for e in results[0]["timeline"]] == ["submitted", "under_review", stored.status]


def test_invoice_and_settlement_slip_verified_at_once_still_complete_the_claim(world):
    claim_id = _submit(world)
    invoice, slip = _document(world, claim_id, "invoice"), _document(world, claim_id, "settlement_slip")
    _, errors = _run_together(lambda: claims.verify_document(world.ports, INSURED, claim_id, invoice, NOW),
                              lambda: claims.verify_document(world.ports, INSURED, claim_id, slip, NOW))
    assert errors == []
    assert world.repo.get(claim_id).decision_due == date(2021, 11, 22)


def test_a_claim_holds_at_most_forty_documents(world):
    claim_id = _submit(world)
    for _ in range(claims.MAX_DOCUMENTS_PER_CLAIM):
        _document(world, claim_id, "expense_list")
    with pytest.raises(RuleViolation) as caught:
        _document(world, claim_id, "expense_list")
    assert caught.value.code == "TOO_MANY_DOCUMENTS"


# ---- system claims, notices, access --------------------------------------------------------------------------------
def test_a_system_claim_from_a_settlement_record_needs_no_documents_and_is_complete_at_once(world):
    policy = world.repo.policy_for_claim(world.policy_id)
    view = claims.create_claim(world.ports, policy, claims.SYSTEM, [SMALL_BILL], None, NOW, requires_documents=False)
    assert (view["status"], view["claimant"], view["decision_due"], view["missing_documents"]) == \
        ("submitted", "system", "2021-11-22", [])
    assert view["timeline"][0]["by"] == "system"
    stored = world.repo.get(view["claim_id"])
    assert stored.claimant_account_id is None and stored.payee_account_enc is None
    # the insured sees it like any other claim
    assert [c["claim_id"] for c in claims.list_for_member(world.ports, INSURED, NOW.date())] == [view["claim_id"]]
    assert world.ports.notifier.sent("acc-insured")[0].data["status"] == "submitted"


def test_a_failing_notifier_does_not_fail_the_status_change(world):
    world.ports.notifier = BrokenNotifier()
    claim_id = _submit(world)
    view = claims.withdraw(world.ports, INSURED, claim_id, None, NOW)
    assert view["status"] == "withdrawn"


def test_someone_without_the_insureds_authorisation_neither_sees_nor_claims(world):
    claim_id = _submit(world)
    with pytest.raises(NotFound) as caught:
        claims.get_for_member(world.ports, STRANGER, claim_id, NOW.date())
    assert caught.value.code == "CLAIM_NOT_FOUND"
    with pytest.raises(NotFound):
        claims.submit(world.ports, STRANGER, world.policy_id, [SMALL_BILL], PAYEE, "key-stranger-1", "h", NOW)
    assert claims.list_for_member(world.ports, STRANGER, NOW.date()) == []


# ---- the paid-bill rule (#13: refused at submission) ---------------------------------------------------------------
def test_a_bill_already_paid_on_the_policy_is_refused_at_submission(world):
    first = _approved(world)
    claims.pay(world.ports, ADMIN, first, "pay-key-first", NOW)
    with pytest.raises(Conflict) as caught:
        _submit(world)  # the same settlement slip again
    assert (caught.value.code, caught.value.details["other_claim_id"], caught.value.details["index"]) == \
        ("CLAIM_BILL_ALREADY_PAID", first, 1)
    assert list(world.repo.claims) == [first]  # nothing stored, no false estimate shown


def test_a_bill_paid_after_submission_is_still_refused_at_approval(world):
    first, second = _approved(world), _submit(world)  # both submitted before either was paid
    claims.pay(world.ports, ADMIN, first, "pay-key-first", NOW)
    _complete(world, second)
    with pytest.raises(Conflict) as caught:
        claims.review(world.ports, REVIEWER, second, "approve", None, None, NOW)
    assert caught.value.code == "CLAIM_BILL_ALREADY_PAID"
    assert world.repo.policy_for_claim(world.policy_id).year_to_date.paid_fen == 150_000


def test_a_bill_naming_its_settlement_keeps_the_settlement_id(world):
    claim_id = _submit(world, [dict(SMALL_BILL, settlement_id="SETL-2021-0001")])
    assert world.repo.get(claim_id).bills[0]["settlement_id"] == "SETL-2021-0001"


# ---- decisions on incomplete claims (#13) --------------------------------------------------------------------------
def test_an_incomplete_claim_has_no_deadline_and_names_what_is_missing(world):
    view = claims.get_for_member(world.ports, INSURED, _submit(world), NOW.date())
    assert (view["decision_due"], view["missing_documents"]) == (None, ["invoice", "settlement_slip"])


@pytest.mark.parametrize("decision, status", [("need_more_info", "need_more_info"), ("reject", "rejected")])
def test_staff_may_ask_for_more_or_reject_an_incomplete_claim(world, decision, status):
    claim_id = _submit(world)
    view = claims.review(world.ports, REVIEWER, claim_id, decision, None, "请上传发票和结算单", NOW)
    assert (view["status"], view["member_note"], view["decision_due"]) == (status, "请上传发票和结算单", None)
    assert [e["status"] for e in view["timeline"]] == ["submitted", "under_review", status]


def test_an_incomplete_claim_still_cannot_be_approved(world):
    claim_id = _submit(world)
    with pytest.raises(RuleViolation) as caught:
        claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW)
    assert (caught.value.code, caught.value.details["missing"]) == ("CLAIM_INCOMPLETE",
                                                                    ["invoice", "settlement_slip"])


def test_documents_that_complete_a_claim_sent_back_for_more_put_it_back_under_review(world):
    claim_id = _submit(world)
    claims.review(world.ports, REVIEWER, claim_id, "need_more_info", None, "请上传发票和结算单", NOW)
    _complete(world, claim_id)
    view = claims.get_for_staff(world.ports, REVIEWER, claim_id, NOW.date())
    assert (view["status"], view["decision_due"], view["missing_documents"]) == ("under_review", "2021-11-22", [])
    assert [(e["status"], e["by"]) for e in view["timeline"]][-1] == ("under_review", "system")
    assert world.ports.notifier.sent("acc-insured")[-1].data["status"] == "under_review"


def test_one_document_of_two_does_not_resume_the_review(world):
    claim_id = _submit(world)
    claims.review(world.ports, REVIEWER, claim_id, "need_more_info", None, "请上传发票和结算单", NOW)
    claims.verify_document(world.ports, INSURED, claim_id, _document(world, claim_id, "invoice"), NOW)
    assert world.repo.get(claim_id).status == "need_more_info"


# ---- the bucket's upload event -------------------------------------------------------------------------------------
def test_the_upload_event_verifies_a_document_the_client_never_verified(world):
    claim_id = _submit(world)
    for kind in ("invoice", "settlement_slip"):
        doc_id = _document(world, claim_id, kind)
        key = world.repo.docs[claim_id][doc_id].s3_key
        assert claims.verify_uploaded(world.ports, key, NOW) == "verified"
        assert claims.verify_uploaded(world.ports, key, NOW) == "already"  # S3 may deliver an event twice
    assert world.repo.get(claim_id).decision_due == date(2021, 11, 22)


def test_the_upload_event_rejects_an_object_unlike_its_declaration(world):
    claim_id = _submit(world)
    doc_id = _document(world, claim_id, "invoice")
    key = world.repo.docs[claim_id][doc_id].s3_key
    world.documents.objects[key] = StoredObject("text/html", 1000)
    assert claims.verify_uploaded(world.ports, key, NOW) == "rejected"


@pytest.mark.parametrize("key", ["claims/no-such-claim/abc", "other/thing", "claims//x", "claims/a/b/c"])
def test_the_upload_event_ignores_objects_that_are_no_pending_document(world, key):
    assert claims.verify_uploaded(world.ports, key, NOW) == "unknown"


# ---- the official calendar (#13 item 4) ----------------------------------------------------------------------------
DEC_2026 = datetime(2026, 12, 21, 10, 0, tzinfo=CHINA_TZ)
OFFICIAL_2027 = {"holidays": [date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)], "workdays": []}


@pytest.fixture()
def december_world(world):
    policy = _policy(policy_id="pol-2026", plan_id="lishui-2021", benefit_start=date(2026, 1, 1),
                     coverage_end=date(2026, 12, 31))
    world.ports.claimants.insured("acc-insured", policy)
    world.policy_id = "pol-2026"
    return world


def _complete_in_december(world) -> str:
    claim_id = _submit(world, [dict(SMALL_BILL, service_date="2026-12-01")], now=DEC_2026)
    _complete(world, claim_id, now=DEC_2026)
    return claim_id


def test_a_deadline_reaching_an_unpublished_year_is_estimated(december_world):
    claim = december_world.repo.get(_complete_in_december(december_world))
    assert (claim.decision_due, claim.decision_due_estimated) == (date(2027, 1, 12), True)


def test_loading_the_official_year_recomputes_open_deadlines_and_their_queue_places(december_world):
    world = december_world
    claim_id = _complete_in_december(world)
    decided = _complete_in_december(world)
    claims.review(world.ports, REVIEWER, decided, "reject", None, "不属于保障范围", DEC_2026)
    before_key = queue_sort_key(world.repo.get(claim_id))
    answer = claims.load_official_year(world.ports, BUREAU, 2027, OFFICIAL_2027["holidays"], [], DEC_2026)
    assert answer["claims_rescheduled"] == 1  # the rejected claim's deadline no longer matters
    claim = world.repo.get(claim_id)
    assert (claim.decision_due, claim.decision_due_estimated) == (date(2027, 1, 12), False)
    # a notice with a make-up Saturday 2027-01-09 (illustrative) moves the deadline a day earlier
    claims.load_official_year(world.ports, ADMIN, 2027, OFFICIAL_2027["holidays"], [date(2027, 1, 9)], DEC_2026)
    claim = world.repo.get(claim_id)
    assert (claim.decision_due, claim.decision_due_estimated) == (date(2027, 1, 11), False)
    assert queue_sort_key(claim) != before_key and queue_sort_key(claim).startswith("2027-01-11#")
    assert world.repo.get(decided).decision_due_estimated is True


def test_a_claim_completed_after_the_year_is_loaded_is_not_estimated(december_world):
    claims.load_official_year(december_world.ports, BUREAU, 2027, OFFICIAL_2027["holidays"], [], DEC_2026)
    assert december_world.repo.get(_complete_in_december(december_world)).decision_due_estimated is False


def test_only_an_insurer_admin_or_the_bureau_loads_the_calendar(world):
    with pytest.raises(Forbidden):
        claims.load_official_year(world.ports, REVIEWER, 2027, [date(2027, 1, 1)], [], NOW)
    assert world.calendar.loaded == {}
