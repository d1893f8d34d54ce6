"""The reconciliation's money-returning steps, on the repositories' in-memory twins and the simulated platform (no
moto): an order left `refund_pending` is reversed and ends `refunded`; a platform that does not answer leaves it for
the next run; a cancellation refund the platform refuses goes to the operators' queue (`refund_failed`)."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.adapters.medical_platform import SimulatedPlatform
from chalicelib.adapters.repositories.orders import InMemoryOrderRepository
from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository
from chalicelib.domain.order import Refund
from chalicelib.domain.platform import PlatformPerson
from chalicelib.services import orders
from tests.contract.test_repositories import an_order

NOW = datetime(2020, 12, 15, 10, 20, tzinfo=CHINA_TZ)
PAYER_ID = "331102198003010012"


@pytest.fixture()
def platform() -> SimulatedPlatform:
    sim = SimulatedPlatform(SandboxClock(NOW))
    sim.register(PlatformPerson(id_number=PAYER_ID, name="王建国", city="331100", basic_type="employee",
                                status="active"), current_fen=50000, prior_years_fen=100000)
    return sim


@pytest.fixture()
def ports(platform) -> orders.OrderPorts:
    return orders.OrderPorts(table=None, platform=platform, wechat=None, cipher=None,
                             orders=InMemoryOrderRepository(), policies=InMemoryPolicyRepository())


def taken_then_left_refund_pending(ports, platform, order_id: str = "ORD1"):
    """Both planned deductions were made, then cover could not be issued: the order awaits its refund."""
    order = an_order(order_id, status="refund_pending").model_copy(update={"failure": "ALREADY_COVERED"})
    for planned in order.deductions:
        platform.deduct(PAYER_ID, planned.source, planned.amount_fen, planned.key, reference=order_id)
    ports.orders.save(order)
    return order


def test_an_order_awaiting_its_refund_is_reversed_in_full_and_ends_refunded(ports, platform):
    taken_then_left_refund_pending(ports, platform)

    counts = orders.reconcile(ports, NOW)

    assert (counts["refunded"], counts["errors"]) == (1, 0)
    done = ports.orders.get("ORD1")
    assert (done.status, done.refunded_at, done.failure) == ("refunded", NOW.isoformat(), "ALREADY_COVERED")
    statement = platform.statement(PAYER_ID)
    assert (statement["account_current_fen"], statement["account_prior_years_fen"]) == (50000, 100000)
    assert {d["status"] for d in statement["deductions"]} == {"refunded"}
    assert list(ports.orders.queued("refund_pending")) == []


def test_a_platform_that_does_not_answer_leaves_the_order_for_the_next_run(ports, platform):
    taken_then_left_refund_pending(ports, platform)
    platform.fail_next("refund", "before")

    first = orders.reconcile(ports, NOW)

    assert first["still_pending"] == 1 and ports.orders.get("ORD1").status == "refund_pending"
    assert orders.reconcile(ports, NOW)["refunded"] == 1
    assert ports.orders.get("ORD1").status == "refunded"
    assert platform.statement(PAYER_ID)["account_prior_years_fen"] == 100000  # returned once, not twice


def test_a_cancellation_refund_the_platform_refuses_goes_to_the_operators_queue(ports, platform):
    ports.orders.save_refund(Refund(refund_id="RF1", policy_id="POL1", order_id="ORD1",
                                    payment_method="personal_account", amount_fen=10000, status="refund_pending",
                                    created_at="2020-12-15T10:00:00+08:00", deduction_key="ORD1-current"))

    counts = orders.reconcile(ports, NOW)  # the platform knows no deduction ORD1-current

    assert (counts["still_pending"], counts["refunds_sent"], counts["errors"]) == (1, 0, 0)
    refused = ports.orders.refund("RF1")
    assert (refused.status, refused.refund_failure) == ("refund_failed", "DEDUCTION_NOT_FOUND")
    assert list(ports.orders.queued_refunds("refund_pending")) == []
    assert [r.refund_id for r in ports.orders.queued_refunds("refund_failed")] == ["RF1"]
