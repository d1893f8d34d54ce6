"""The order and refund lifecycles: the domain's transition tables, the one function applying them, and
docs/payments.md's state tables checked against the code row by row."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.domain import order_lifecycle as lc

DOC = Path(__file__).resolve().parents[2] / "docs" / "payments.md"


def _doc_table(heading_row: str) -> dict[str, frozenset[str]]:
    """status → the statuses its 'moves to' column lists, from the markdown table whose header starts so."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(heading_row))
    rows: dict[str, frozenset[str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        status = cells[0].strip("`")
        moves = cells[2] if heading_row.startswith("| status |") else cells[1]
        rows[status] = frozenset(re.findall(r"`([a-z_]+)`", moves))
    return rows


def test_the_documented_order_states_are_the_code_s():
    assert _doc_table("| status | meaning | moves to |") == lc.ORDER_TRANSITIONS
    assert tuple(lc.ORDER_TRANSITIONS) == lc.ORDER_STATUSES


def test_the_documented_refund_states_are_the_code_s():
    assert _doc_table("| refund status | moves to |") == lc.REFUND_TRANSITIONS


@pytest.mark.parametrize(("current", "target"), [(c, t) for c, ts in lc.ORDER_TRANSITIONS.items() for t in sorted(ts)])
def test_every_move_in_the_table_is_applied(current, target):
    assert lc.transition(current, target) == target


@pytest.mark.parametrize(("current", "target"), [
    ("refunded", "refund_pending"),  # the old backward move
    ("paid", "refund_pending"),
    ("expired", "paid"),  # money after the close is refunded, never issued
    ("failed", "paid"),
    ("pending_payment", "settling"),
])
def test_a_move_the_table_lacks_is_refused(current, target):
    with pytest.raises(lc.IllegalTransition) as refused:
        lc.transition(current, target)
    assert refused.value.code == "STATE_CONFLICT" and refused.value.status == 409


def test_ended_orders_leave_the_work_queue_and_release_their_people():
    ended = {lc.PAID, lc.FAILED, lc.EXPIRED, lc.REFUNDED}
    assert lc.QUEUED_STATUSES.isdisjoint(ended)
    assert lc.RESERVING_STATUSES == {lc.PENDING_PAYMENT, lc.SETTLING}
    assert set(lc.INITIAL_STATUS.values()) == lc.RESERVING_STATUSES


def test_a_refund_goes_forward_only():
    assert lc.refund_transition("refund_pending", "refunded") == "refunded"
    with pytest.raises(lc.IllegalTransition):
        lc.refund_transition("refunded", "refund_pending")


def test_a_marker_without_state_is_cover_and_a_reservation_is_not():
    assert lc.cover_issued({"policy_id": "POL1"})
    assert lc.cover_issued({"state": "issued"})
    assert not lc.cover_issued({"state": "reserved", "order_id": "ORD1"})
    assert not lc.cover_issued(None)
