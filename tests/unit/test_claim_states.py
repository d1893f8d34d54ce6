"""Claim states and transitions, the completeness rule, upload checks and payee masking (DOMAIN §7)."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain import claims as rules
from chalicelib.domain.errors import Conflict

MB = 1024 * 1024


@pytest.mark.parametrize("current, target, path", [
    ("submitted", "under_review", ["under_review"]),
    ("submitted", "approved", ["under_review", "approved"]),
    ("submitted", "rejected", ["under_review", "rejected"]),
    ("submitted", "need_more_info", ["under_review", "need_more_info"]),
    ("under_review", "approved", ["approved"]),
    ("under_review", "need_more_info", ["need_more_info"]),
    ("need_more_info", "approved", ["under_review", "approved"]),
    ("need_more_info", "need_more_info", ["under_review", "need_more_info"]),
    ("approved", "paid", ["paid"]),
    ("submitted", "withdrawn", ["withdrawn"]),
    ("under_review", "withdrawn", ["withdrawn"]),
    ("need_more_info", "withdrawn", ["withdrawn"]),
])
def test_allowed_paths_record_under_review_before_a_decision(current, target, path):
    assert rules.path_to(current, target) == path


@pytest.mark.parametrize("current, target", [
    ("approved", "withdrawn"), ("approved", "rejected"), ("approved", "approved"), ("paid", "paid"),
    ("paid", "withdrawn"), ("rejected", "approved"), ("rejected", "under_review"), ("withdrawn", "under_review"),
    ("withdrawn", "withdrawn"), ("submitted", "paid"), ("under_review", "paid"),
])
def test_decided_withdrawn_or_unapproved_claims_cannot_move_that_way(current, target):
    with pytest.raises(Conflict) as caught:
        rules.path_to(current, target)
    assert caught.value.code == "CLAIM_STATE_CONFLICT"
    assert caught.value.details["status_zh"] in caught.value.message


def test_every_state_is_in_the_transition_table_and_terminal_states_lead_nowhere():
    assert set(rules.TRANSITIONS) == set(rules.STATUSES)
    assert all(not rules.TRANSITIONS[s] for s in ("paid", "rejected", "withdrawn"))


@pytest.mark.parametrize("status, allowed", [("submitted", True), ("under_review", True), ("need_more_info", True),
                                             ("approved", False), ("paid", False), ("rejected", False),
                                             ("withdrawn", False)])
def test_the_claimant_may_withdraw_only_before_a_decision(status, allowed):
    assert rules.can_withdraw(status) is allowed


def _docs(*pairs):
    return [rules.DocumentState(kind, status) for kind, status in pairs]


def test_a_claim_is_complete_with_a_verified_invoice_and_settlement_slip():
    assert rules.missing_for_completeness(_docs(("invoice", "verified"), ("settlement_slip", "verified"))) == []


def test_an_unverified_or_rejected_document_does_not_count():
    docs = _docs(("invoice", "awaiting_upload"), ("settlement_slip", "rejected"), ("id_card", "verified"))
    assert rules.missing_for_completeness(docs) == ["invoice", "settlement_slip"]


def test_a_rejected_copy_does_not_undo_a_verified_one():
    docs = _docs(("invoice", "rejected"), ("invoice", "verified"), ("settlement_slip", "verified"))
    assert rules.missing_for_completeness(docs) == []


def test_the_decision_is_due_fifteen_working_days_after_completion():
    deadline = rules.decision_due(date(2021, 11, 1))  # Monday; no holiday before 11-22
    assert (deadline.due, deadline.estimated) == (date(2021, 11, 22), False)


@pytest.mark.parametrize("actual_type, actual_size, problem", [
    ("image/png", 1000, None),
    ("image/png; charset=binary", 1000, None),
    ("image/jpeg", 1000, "DOCUMENT_REJECTED_TYPE"),
    (None, 1000, "DOCUMENT_REJECTED_TYPE"),
    ("image/png", 999, "DOCUMENT_REJECTED_SIZE"),
    ("image/png", 10 * MB + 1, "DOCUMENT_REJECTED_TOO_LARGE"),
])
def test_an_upload_must_match_its_declaration_and_the_limit(actual_type, actual_size, problem):
    assert rules.upload_problem("image/png", 1000, actual_type, actual_size, 10 * MB) == problem


@pytest.mark.parametrize("number, masked", [("6222021234561234", "6222********1234"),
                                            ("622202123456", "6222****3456"),
                                            ("12345678", "********")])
def test_account_numbers_show_only_the_first_and_last_four_digits(number, masked):
    assert rules.mask_account_number(number) == masked


@pytest.mark.parametrize("current, target, path", [
    ("approved", "payout_failed", ["payout_failed"]),
    ("payout_failed", "paid", ["paid"]),
])
def test_a_failed_transfer_sits_between_approved_and_paid(current, target, path):
    assert rules.path_to(current, target) == path


def test_a_failed_transfer_is_still_in_the_staff_queue_and_cannot_be_withdrawn_or_reviewed():
    assert "payout_failed" in rules.OPEN_STATUSES and not rules.can_withdraw("payout_failed")
    with pytest.raises(Conflict):
        rules.path_to("payout_failed", "approved")


def test_a_claim_model_moves_only_along_the_transition_table():
    from chalicelib.domain.claim_models import Claim

    claim = Claim(claim_id="c1", policy_id="p1", plan_id="lishui-2021", insured_hash="h", claimant_kind="member",
                  claimant_account_id="a1", claimant_role="insured", status="submitted", version=1, bills=[],
                  estimate_fen=0, submitted_at="2021-11-01T10:00:00+08:00", updated_at="2021-11-01T10:00:00+08:00")
    moved = claim.moved(["under_review", "rejected"], "2021-11-02T10:00:00+08:00", member_note="不属于保障范围")
    assert (moved.status, moved.version, moved.member_note, claim.status) == ("rejected", 3, "不属于保障范围",
                                                                              "submitted")
    with pytest.raises(Conflict) as caught:
        claim.moved(["paid"], "2021-11-02T10:00:00+08:00")
    assert caught.value.code == "CLAIM_STATE_CONFLICT"


@pytest.mark.parametrize("decision, allowed", [("approve", False), ("reject", True), ("need_more_info", True)])
def test_only_approval_needs_a_complete_claim(decision, allowed):
    assert (decision in rules.DECISIONS_ON_INCOMPLETE) is allowed


def test_a_claim_sent_back_resumes_review_only_when_nothing_is_missing():
    assert rules.resumes_review("need_more_info", True)
    assert not rules.resumes_review("need_more_info", False)
    assert not rules.resumes_review("submitted", True)


@pytest.mark.parametrize("current", ["approved", "payout_failed"])
def test_a_recalled_payment_goes_back_to_review_but_a_decided_claim_is_not_decided_again(current):
    assert rules.path_to(current, rules.RECALL) == ["under_review"]
    for decision in ("approved", "rejected", "need_more_info"):  # not through under_review in one step
        with pytest.raises(Conflict):
            rules.path_to(current, decision)


@pytest.mark.parametrize("status, payout, transfer, answered, step", [
    ("approved", None, None, True, "recall"),  # approved, nothing committed
    ("approved", "awaiting_payee", None, False, "recall"),
    ("payout_failed", "failed", None, False, "release"),  # committed, the transfer failed: no money moved
    ("approved", "requested", None, True, "release"),  # the gateway has no transfer for the key
    ("approved", "processing", "failed", True, "release"),
    ("approved", "processing", "processing", True, "hold"),  # with the bank: never cancelled
    ("approved", "requested", "succeeded", True, "hold"),
    ("approved", "requested", None, False, "hold"),  # the gateway did not answer (or was not asked)
    ("paid", "succeeded", "succeeded", True, "none"),
    ("under_review", None, None, True, "none"),
])
def test_what_recalling_a_payment_does(status, payout, transfer, answered, step):
    assert rules.payment_recall(status, payout, transfer, gateway_answered=answered) == step
