"""Claims service with the real table (moto) and in-memory ports: concurrency and system-created claims."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.documents import StoredObject
from chalicelib.api.auth import Principal
from chalicelib.domain.errors import Conflict
from chalicelib.services import claims
from tests.claim_helpers import NOW, PAYEE

SMALL_BILL = {"service_date": "2021-10-20", "setting": "inpatient", "self_pay_fen": 2_000_000}
INSURED = Principal("member", "acc-insured")
REVIEWER = Principal("staff", "reviewer-1", "claims_reviewer")
ADMIN = Principal("staff", "admin-1", "insurer_admin")


class FakeDocuments:
    """Documents port double: every object 'uploaded' exactly as declared unless told otherwise."""

    max_bytes = 10 * 1024 * 1024

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}

    def upload_form(self, key, content_type, size_bytes):
        from chalicelib.adapters.documents import UploadForm

        self.objects[key] = StoredObject(content_type, size_bytes)
        return UploadForm(url="https://s3.test/upload", fields={"key": key}, expires_in=900)

    def download_url(self, key):
        return f"https://s3.test/{key}"

    def head(self, key):
        return self.objects.get(key)


class BrokenNotifier:
    def notify(self, *args, **kwargs):
        raise RuntimeError("notice service down")


@pytest.fixture()
def atomic_moto():
    """moto's DynamoDB made as atomic as the real one (tests/conftest.py applies it to every test process)."""
    from tools.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()


@dataclass
class World:
    ports: claims.ClaimPorts
    policy_id: str


@pytest.fixture()
def world(aws, clock):
    from chalicelib import deps
    from chalicelib.adapters.notifications import RecordingNotifier

    clock.set(NOW)
    table, cipher = deps.table(), deps.cipher()
    insured_hash = cipher.lookup_hash("331102198001010011")
    table.put({**keys.account("acc-insured"), "account_id": "acc-insured", "person_hash": insured_hash})
    table.put({**keys.identity_binding(insured_hash), "account_id": "acc-insured"})
    table.put({**keys.policy("pol-1"), "policy_id": "pol-1", "plan_id": "lishui-2021", "insured_hash": insured_hash,
               "insured_name": "王小明", "payer_account_id": "acc-insured", "status": "active",
               "benefit_start": "2021-07-16", "coverage_end": "2021-12-31", "ytd_deductible_used_fen": 0,
               "ytd_eligible_fen": 0, "ytd_paid_fen": 0, "version": 1})
    return World(claims.ClaimPorts(table, FakeDocuments(), RecordingNotifier(clock), cipher), "pol-1")


def _submit(world, bills=None, key=None):
    import uuid

    _, view = claims.submit(world.ports, INSURED, world.policy_id, bills or [SMALL_BILL], PAYEE,
                                 key or uuid.uuid4().hex, uuid.uuid4().hex, NOW)
    return view["claim_id"]


def _document(world, claim_id, kind):
    return claims.add_document(world.ports, INSURED, claim_id, kind, "application/pdf", 1000, NOW)["document_id"]


def _approved(world, bills=None) -> str:
    claim_id = _submit(world, bills)
    for kind in ("invoice", "settlement_slip"):
        claims.verify_document(world.ports, INSURED, claim_id, _document(world, claim_id, kind), NOW)
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


def test_two_claims_of_one_policy_paid_concurrently_both_advance_the_year_to_date_state(world, atomic_moto):
    first, second = _approved(world), _approved(world, [dict(SMALL_BILL, service_date="2021-10-21")])
    results, errors = _run_together(lambda: claims.pay(world.ports, ADMIN, first, "pay-key-first", NOW),
                                    lambda: claims.pay(world.ports, ADMIN, second, "pay-key-second", NOW))
    assert errors == []
    policy = world.ports.table.get(keys.policy(world.policy_id))
    # As if paid one after the other: the deductible is used once, the second pays 75% of all 2,000,000.
    assert (policy["ytd_deductible_used_fen"], policy["ytd_eligible_fen"], policy["ytd_paid_fen"],
            policy["version"]) == (1_800_000, 2_200_000, 1_650_000, 3)
    assert sorted(body["paid_fen"] for _, body in results) == [150_000, 1_500_000]


def test_two_reviewers_deciding_at_once_one_wins_and_the_other_gets_409(world, atomic_moto):
    claim_id = _submit(world)
    for kind in ("invoice", "settlement_slip"):
        claims.verify_document(world.ports, INSURED, claim_id, _document(world, claim_id, kind), NOW)
    other = Principal("staff", "reviewer-2", "claims_reviewer")
    results, errors = _run_together(
        lambda: claims.review(world.ports, REVIEWER, claim_id, "approve", None, None, NOW),
        lambda: claims.review(world.ports, other, claim_id, "reject", None, "不符合条件", NOW))
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict)
    item = world.ports.table.get(keys.claim(claim_id))
    assert item["status"] == results[0]["status"]
    assert [e["status"] for e in results[0]["timeline"]] == ["submitted", "under_review", item["status"]]


def test_invoice_and_settlement_slip_verified_at_once_still_complete_the_claim(world, atomic_moto):
    claim_id = _submit(world)
    invoice, slip = _document(world, claim_id, "invoice"), _document(world, claim_id, "settlement_slip")
    _, errors = _run_together(lambda: claims.verify_document(world.ports, INSURED, claim_id, invoice, NOW),
                              lambda: claims.verify_document(world.ports, INSURED, claim_id, slip, NOW))
    assert errors == []
    assert world.ports.table.get(keys.claim(claim_id))["decision_due"] == "2021-11-22"


def test_a_system_claim_from_a_settlement_record_needs_no_documents_and_is_complete_at_once(world):
    policy = world.ports.table.get(keys.policy(world.policy_id))
    view = claims.create_claim(world.ports, policy, claims.SYSTEM, [SMALL_BILL], None, NOW, requires_documents=False)
    assert (view["status"], view["claimant"], view["decision_due"], view["missing_documents"]) == \
        ("submitted", "system", "2021-11-22", [])
    assert view["timeline"][0]["by"] == "system"
    item = world.ports.table.get(keys.claim(view["claim_id"]))
    assert "GSI2PK" not in item and "payee_account_enc" not in item
    # the insured sees it like any other claim
    assert [c["claim_id"] for c in claims.list_for_member(world.ports.table, INSURED, NOW.date())] == \
        [view["claim_id"]]
    assert world.ports.notifier.sent("acc-insured")[0].data["status"] == "submitted"


def test_a_failing_notifier_does_not_fail_the_status_change(world):
    world.ports.notifier = BrokenNotifier()
    claim_id = _submit(world)
    view = claims.withdraw(world.ports, INSURED, claim_id, None, NOW)
    assert view["status"] == "withdrawn"


def test_a_claim_holds_at_most_forty_documents(world):
    claim_id = _submit(world)
    for _ in range(claims.MAX_DOCUMENTS_PER_CLAIM):
        _document(world, claim_id, "expense_list")
    from chalicelib.domain.errors import RuleViolation

    with pytest.raises(RuleViolation) as caught:
        _document(world, claim_id, "expense_list")
    assert caught.value.code == "TOO_MANY_DOCUMENTS"


def test_the_same_bill_is_paid_once_even_through_two_claims(world):
    first, second = _approved(world), _submit(world)  # the second claim repeats the first one's settlement slip
    claims.pay(world.ports, ADMIN, first, "pay-key-first", NOW)
    for kind in ("invoice", "settlement_slip"):
        claims.verify_document(world.ports, INSURED, second, _document(world, second, kind), NOW)
    with pytest.raises(Conflict) as err:
        claims.review(world.ports, REVIEWER, second, "approve", None, None, NOW)
    assert err.value.code == "CLAIM_BILL_ALREADY_PAID"
    assert world.ports.table.get(keys.policy(world.policy_id))["ytd_paid_fen"] == 150_000
