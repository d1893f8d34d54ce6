"""Fault injection: whatever fails — the 医保 platform after it debited, DynamoDB after the debit, a crash between
steps, concurrent duplicates — the end state is one charge with cover, or no charge (or a full refund) without.

Services layer over the repositories' in-memory twins and the SimulatedPlatform; time is the sandbox clock, moved past the lease where the
reconciliation is meant to take over."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from chalicelib import deps
from chalicelib.adapters.dynamodb import TransientStorageError
from chalicelib.adapters.repositories.memory import MemoryStore
from chalicelib.api.auth import Principal
from chalicelib.domain.errors import Conflict, DomainError, UpstreamUnavailable
from chalicelib.domain.order import CoverMarker
from chalicelib.services import orders
from chalicelib.services.idempotency import body_hash
from chalicelib.services.orders import personal_account
from tests.helpers import TwinFamily, current_twins
from tests.orders_support import IN_WINDOW

PREMIUM = 10000


@pytest.fixture()
def clock(twins):
    return deps.clock()


@pytest.fixture()
def family(twins, clock):
    clock.set(IN_WINDOW)
    fam = TwinFamily(twins)
    fam.relative("spouse", "spouse")
    fam.relative("child", "child", born=date(2010, 1, 1))
    return fam


def place(family: TwinFamily, insured: list[str], key: str, payment_method: str = "personal_account"):
    refs = [family.members.get(i, i) for i in insured]
    request = {"plan_id": "lishui-2021", "insured": refs, "payment_method": payment_method, "auto_renew": False}
    return orders.place_order(deps.order_ports(), Principal("member", family.account_id), "lishui-2021", refs,
                              payment_method, False, key, body_hash(request), deps.clock().now())


def reconcile_after_lease(clock) -> dict[str, int]:
    clock.advance(orders.LEASE + timedelta(seconds=1))
    return orders.reconcile(deps.order_ports(), deps.clock().now())


def the_order(order_id: str) -> dict:
    return current_twins().order_item(order_id)


def settling_order_ids() -> list[str]:
    return list(current_twins().store.orders)  # every stored order, as the table scan listed them


def issued_policies() -> int:
    return len(current_twins().store.policies)


def assert_untouched(family: TwinFamily, current: int = 50000, prior_years: int = 100000) -> None:
    statement = family.balances()
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (current, prior_years)
    assert issued_policies() == 0


def test_platform_timeout_after_the_debit_is_resumed_by_the_members_retry(family):
    deps.platform().fail_next("deduct", "after")
    with pytest.raises(UpstreamUnavailable) as pending:
        place(family, ["self"], "fault-key-0001")
    assert pending.value.code == "PAYMENT_RESULT_PENDING"
    status, order = place(family, ["self"], "fault-key-0001")  # the phone retries with the same key
    assert status == 201 and order["status"] == "paid" and len(order["policies"]) == 1
    assert len(family.balances()["deductions"]) == 1
    assert family.balances()["account_current_fen"] == 50000 - PREMIUM


def test_platform_timeout_after_the_debit_is_settled_by_reconciliation(family, clock):
    deps.platform().fail_next("deduct", "after")
    with pytest.raises(UpstreamUnavailable):
        place(family, ["spouse", "child"], "fault-key-0002")  # one deduction from 历年结余
    assert reconcile_after_lease(clock)["issued"] == 1
    assert issued_policies() == 2
    status, order = place(family, ["spouse", "child"], "fault-key-0002")  # a late retry sees the outcome
    assert status == 201 and order["status"] == "paid"
    statement = family.balances()
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (50000, 80000)
    assert len(statement["deductions"]) == 1


def test_one_of_two_deductions_lost_to_a_timeout_is_reversed_not_half_issued(family, clock):
    deps.platform().fail_next("deduct", "after")  # the current-balance deduction happens, its answer is lost
    with pytest.raises(UpstreamUnavailable):
        place(family, ["self", "spouse"], "fault-key-0012")
    assert reconcile_after_lease(clock)["failed"] == 1  # 历年结余 was never deducted: undo the current one
    assert_untouched(family)


def test_platform_timeout_before_the_debit_fails_cleanly_and_the_key_can_be_used_again(family):
    deps.platform().fail_next("deduct", "before")
    with pytest.raises(UpstreamUnavailable):
        place(family, ["self"], "fault-key-0003")
    with pytest.raises(DomainError) as refused:  # the retry asks the platform: no deduction → the order fails
        place(family, ["self"], "fault-key-0003")
    assert refused.value.code == "PAYMENT_REFUSED"
    assert_untouched(family)
    status, order = place(family, ["self"], "fault-key-0003")  # released: trying again works
    assert status == 201 and order["status"] == "paid"


def fail_issuing_once(monkeypatch) -> None:
    """The issuing transaction (the one that puts policies) fails once with a DynamoDB throttle (as the table
    raises it: TransientStorageError)."""
    real = MemoryStore.transact
    failures = iter([True])

    def flaky(self, ops):
        ops = list(ops)
        if any(op.kind == "Put" and op.item["PK"].startswith("POLICY#") for op in ops) and next(failures, False):
            raise TransientStorageError("ThrottlingException")
        return real(self, ops)

    monkeypatch.setattr(MemoryStore, "transact", flaky)


def test_dynamodb_failure_of_the_issuing_transaction_is_settled_by_reconciliation(family, clock, monkeypatch):
    fail_issuing_once(monkeypatch)
    with pytest.raises(UpstreamUnavailable):
        place(family, ["self", "spouse", "child"], "fault-key-0004")
    assert family.balances()["account_prior_years_fen"] == 80000  # money taken, no cover yet …
    assert issued_policies() == 0
    assert reconcile_after_lease(clock)["issued"] == 1  # … until reconciliation issues it
    assert issued_policies() == 3
    assert len(family.balances()["deductions"]) == 2


def test_debit_then_dynamodb_failure_then_someone_else_covers_the_person_is_refunded(family, clock, monkeypatch):
    fail_issuing_once(monkeypatch)
    with pytest.raises(UpstreamUnavailable):
        place(family, ["spouse"], "fault-key-0005")
    order_id = settling_order_ids()[0]
    current_twins().orders.save_cover(CoverMarker(plan_id="lishui-2021", policy_id="POL-OTHER"),
                                      the_order(order_id)["insured"][0]["id_hash"])  # another payer's got there first
    counts = reconcile_after_lease(clock)
    assert counts["failed"] == 1
    assert the_order(order_id)["status"] == "refunded"
    assert_untouched(family)


def test_crash_between_reservation_and_deduction_fails_the_order_and_charges_nothing(family, clock, monkeypatch):
    monkeypatch.setattr(deps.platform(), "deduct", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        place(family, ["self"], "fault-key-0006")
    monkeypatch.undo()
    [order_id] = settling_order_ids()
    assert the_order(order_id)["status"] == "settling"
    with pytest.raises(Conflict) as in_flight:  # an immediate retry must not race the (dead) first request
        place(family, ["self"], "fault-key-0006")
    assert in_flight.value.code == "IDEMPOTENCY_IN_FLIGHT"
    assert reconcile_after_lease(clock)["failed"] == 1
    assert the_order(order_id)["status"] == "failed"
    assert_untouched(family)


def test_crash_after_the_debit_is_issued_by_reconciliation(family, clock, monkeypatch):
    monkeypatch.setattr(personal_account, "_issue_paid_order", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        place(family, ["self"], "fault-key-0007")
    monkeypatch.undo()
    assert reconcile_after_lease(clock)["issued"] == 1
    assert issued_policies() == 1 and len(family.balances()["deductions"]) == 1


def test_late_deduction_after_the_order_was_failed_is_returned(family, clock, monkeypatch):
    """The first request stalls before deducting; reconciliation fails the order; then the stalled request wakes
    and deducts. Its issuing transaction is refused (the order is no longer settling) and it returns the money."""
    monkeypatch.setattr(deps.platform(), "deduct", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stall")))
    with pytest.raises(RuntimeError):
        place(family, ["self"], "fault-key-0008")
    monkeypatch.undo()
    [order_id] = settling_order_ids()
    stalled_view = deps.order_ports().orders.get(order_id)
    reconcile_after_lease(clock)
    assert the_order(order_id)["status"] == "failed"
    with pytest.raises(DomainError):
        personal_account.settle(deps.order_ports(), stalled_view, deps.clock().now(), deduct=True)
    assert the_order(order_id)["status"] == "refunded"
    assert_untouched(family)


def test_second_deduction_refused_returns_the_first(family, monkeypatch):
    from chalicelib.domain.platform import Balances

    # The balances looked fine, but 历年结余 was spent elsewhere before our second deduction.
    monkeypatch.setattr(deps.platform(), "balances", lambda _id: Balances(current_fen=50000, prior_years_fen=100000))
    deps.platform().accounts[family.id_number]["prior_years"] = 5000
    with pytest.raises(DomainError) as refused:
        place(family, ["self", "spouse"], "fault-key-0009")
    assert refused.value.code == "INSUFFICIENT_BALANCE" and refused.value.details["account_source"] == "prior_years"
    assert_untouched(family, prior_years=5000)
    assert the_order(settling_order_ids()[0])["status"] == "refunded"


def test_second_deduction_timeout_after_it_debited_is_issued_by_the_retry(family):
    real_deduct = deps.platform().deduct
    calls = []

    def second_times_out_after(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            deps.platform().fail_next("deduct", "after")
        return real_deduct(*args, **kwargs)

    deps.platform().deduct = second_times_out_after
    with pytest.raises(UpstreamUnavailable):
        place(family, ["self", "spouse"], "fault-key-0010")
    status, order = place(family, ["self", "spouse"], "fault-key-0010")  # both found at the platform → issue
    assert status == 201 and order["status"] == "paid"
    statement = family.balances()
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (40000, 90000)


def test_reversal_that_times_out_is_finished_by_reconciliation(family, clock, monkeypatch):
    from chalicelib.domain.platform import Balances

    monkeypatch.setattr(deps.platform(), "balances", lambda _id: Balances(current_fen=50000, prior_years_fen=100000))
    deps.platform().accounts[family.id_number]["prior_years"] = 0
    deps.platform().fail_next("refund", "before")
    with pytest.raises(DomainError):
        place(family, ["self", "spouse"], "fault-key-0011")
    order_id = settling_order_ids()[0]
    assert the_order(order_id)["status"] == "refund_pending"
    assert family.balances()["account_current_fen"] == 40000  # owed back …
    assert orders.reconcile(deps.order_ports(), deps.clock().now())["refunded"] == 1
    assert the_order(order_id)["status"] == "refunded"
    assert_untouched(family, prior_years=0)  # … and returned


def test_concurrent_requests_with_the_same_key_charge_once(family):
    barrier = threading.Barrier(6)

    def attempt(_):
        barrier.wait()
        try:
            return place(family, ["self", "spouse", "child"], "same-key-0001")
        except DomainError as exc:
            return exc.status, exc.code

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, range(6)))
    assert sum(1 for r in results if r[0] == 201) >= 1
    assert all(r[0] == 201 or r == (409, "IDEMPOTENCY_IN_FLIGHT") for r in results), [
        r if r[0] != 201 else 201 for r in results]
    assert issued_policies() == 3
    assert len(family.balances()["deductions"]) == 2  # current + 历年结余, once each


def test_two_payers_buying_for_the_same_person_at_once_give_one_cover_and_one_charge(twins, family):
    other = TwinFamily(twins, phone="13900000011", name="孙付款")
    other.members["brother"] = other.add_member("李秀英e", family.ids["spouse"], "sibling")
    barrier = threading.Barrier(2)

    def buy(payer: TwinFamily, label: str):
        barrier.wait()
        try:
            return place(payer, [label], f"race-{label}-0001")[0]
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(map(str, pool.map(lambda args: buy(*args), [(family, "spouse"), (other, "brother")])))
    assert outcomes == ["201", "ALREADY_COVERED"]
    assert issued_policies() == 1
    charged = [s for s in (family.balances(), other.balances()) if s["account_prior_years_fen"] == 90000]
    assert len(charged) == 1
    assert sum(len(s["refunds"]) for s in (family.balances(), other.balances())) in (0, 1)  # loser refunded
