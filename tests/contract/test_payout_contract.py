"""Contract of the payout port: every test runs against the simulator and against HttpPayouts over loopback HTTP.

Administration (refusing an account, holding transfers, faults) goes straight to the simulator: it is the world.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.adapters.payout import PayoutRefused, PayoutUnavailable, SimulatedPayouts
from chalicelib.domain.payout import Payee

PAYEE = Payee(account_name="张三", bank_name="中国工商银行丽水分行", account_number="6222020000000001")
CLOSED = Payee(account_name="李四", bank_name="中国农业银行", account_number="6228480000000002")
DAY = date(2021, 6, 1)


@pytest.fixture()
def gateway():
    from chalicelib import deps

    deps.reset()
    sim = SimulatedPayouts(SandboxClock(datetime(2021, 6, 1, 10, 0, tzinfo=CHINA_TZ)))
    deps.override("payouts", sim)
    yield sim
    deps.reset()


@pytest.fixture(params=["simulator", "http"])
def payouts(request, gateway):
    if request.param == "simulator":
        return gateway
    from chalicelib import deps
    from chalicelib.adapters.payout_http import HttpPayouts

    return HttpPayouts(request.getfixturevalue("served_app") + "/sandbox/payouts", deps.payout_secret(),
                       timeout=(2.0, 5.0))


def test_a_transfer_to_a_good_account_succeeds(payouts, gateway):
    transfer = payouts.transfer(PAYEE, 465_000, "claim-C1", "C1")
    assert (transfer.status, transfer.amount_fen, transfer.failure_code) == ("succeeded", 465_000, None)
    assert payouts.find("claim-C1") == transfer


def test_the_same_key_gives_the_same_transfer_never_a_second(payouts, gateway):
    first = payouts.transfer(PAYEE, 465_000, "claim-C1", "C1")
    again = payouts.transfer(PAYEE, 465_000, "claim-C1", "C1")
    assert again == first
    assert len(gateway.transfers) == 1


def test_the_same_key_for_another_amount_or_account_is_refused(payouts, gateway):
    payouts.transfer(PAYEE, 465_000, "claim-C1", "C1")
    with pytest.raises(PayoutRefused) as refused:
        payouts.transfer(PAYEE, 465_001, "claim-C1", "C1")
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(PayoutRefused):
        payouts.transfer(CLOSED, 465_000, "claim-C1", "C1")


def test_a_non_positive_amount_is_refused_and_nothing_is_sent(payouts, gateway):
    with pytest.raises(PayoutRefused) as refused:
        payouts.transfer(PAYEE, 0, "claim-C0", "C0")
    assert refused.value.code == "INVALID_AMOUNT"
    assert payouts.find("claim-C0") is None


def test_a_bank_refusal_is_a_failed_transfer_with_the_bank_reason(payouts, gateway):
    gateway.refuse_account(CLOSED.account_number, "ACCOUNT_FROZEN")
    transfer = payouts.transfer(CLOSED, 10_000, "claim-C2", "C2")
    assert (transfer.status, transfer.failure_code) == ("failed", "ACCOUNT_FROZEN")


def test_a_held_transfer_stays_processing_until_the_bank_confirms(payouts, gateway):
    gateway.hold()
    assert payouts.transfer(PAYEE, 10_000, "claim-C3", "C3").status == "processing"
    assert payouts.find("claim-C3").status == "processing"
    assert gateway.complete_pending() == 1
    assert payouts.find("claim-C3").status == "succeeded"


def test_a_timeout_after_the_effect_is_found_by_its_key(payouts, gateway):
    gateway.fail_next("transfer", "after")
    with pytest.raises(PayoutUnavailable):
        payouts.transfer(PAYEE, 10_000, "claim-C4", "C4")
    assert payouts.find("claim-C4").status == "succeeded"  # it went through: asking again would not pay twice
    assert payouts.transfer(PAYEE, 10_000, "claim-C4", "C4").transfer_id == payouts.find("claim-C4").transfer_id


def test_a_timeout_before_the_effect_leaves_nothing(payouts, gateway):
    gateway.fail_next("transfer", "before")
    with pytest.raises(PayoutUnavailable):
        payouts.transfer(PAYEE, 10_000, "claim-C5", "C5")
    assert payouts.find("claim-C5") is None


def test_an_unknown_key_is_not_found(payouts, gateway):
    assert payouts.find("claim-nothing") is None


def test_the_statement_lists_the_days_transfers_in_order(payouts, gateway):
    payouts.transfer(PAYEE, 10_000, "claim-A", "A")
    payouts.transfer(PAYEE, 20_000, "claim-B", "B")
    assert [t.idempotency_key for t in payouts.statement(DAY)] == ["claim-A", "claim-B"]
    assert payouts.statement(date(2021, 6, 2)) == []


def test_the_gateway_refuses_an_unsigned_or_wrongly_signed_request(served_app, gateway):
    from chalicelib.adapters.payout_http import HttpPayouts

    wrong = HttpPayouts(served_app + "/sandbox/payouts", b"not-the-secret", timeout=(2.0, 5.0))
    with pytest.raises(PayoutRefused) as refused:
        wrong.transfer(PAYEE, 10_000, "claim-X", "X")
    assert refused.value.code == "PAYOUT_SIGNATURE_INVALID"
    assert gateway.transfers == {}
