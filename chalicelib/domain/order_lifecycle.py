"""The order and refund lifecycles (docs/payments.md "Order states"): the statuses, the moves allowed between them,
and the one function that applies a move or refuses it. Pure: no I/O, no clock.

    personal account:  settling → paid
                               ↘ failed (nothing taken) | refunded | refund_pending → refunded | refund_failed
    WeChat Pay:        pending_payment → paid
                                       ↘ failed (prepay refused) | expired (closed unpaid) | refund_pending → …
    late money:        failed | expired → refund_pending  (a deduction or payment that landed after the order ended
                                                           is returned; the order never goes back to `paid`)
    operator:          refund_failed → refunded

A per-(plan, insured) cover marker follows the order: `reserved` while it is pending_payment/settling, `issued` when
it is paid, deleted when it ends any other way (see COVER_* below).
"""
from __future__ import annotations

from typing import Literal

from chalicelib.domain.errors import Conflict

OrderStatus = Literal["pending_payment", "settling", "paid", "failed", "expired", "refund_pending", "refunded",
                      "refund_failed"]

PENDING_PAYMENT = "pending_payment"
SETTLING = "settling"
PAID = "paid"
FAILED = "failed"  # nothing was taken
EXPIRED = "expired"  # a WeChat order left unpaid past its time_expire, closed at WeChat: nothing was taken
REFUND_PENDING = "refund_pending"  # money was taken, cover could not be issued: it is being returned
REFUNDED = "refunded"  # money was taken and has been returned in full
REFUND_FAILED = "refund_failed"  # the channel refused the refund (e.g. merchant balance): an operator settles it

ORDER_STATUSES: tuple[str, ...] = (PENDING_PAYMENT, SETTLING, PAID, FAILED, EXPIRED, REFUND_PENDING, REFUNDED,
                                   REFUND_FAILED)

# What a new order starts in, by payment method.
INITIAL_STATUS = {"personal_account": SETTLING, "wechat_pay": PENDING_PAYMENT}

# from → the statuses it may move to directly. Anything else is refused by `transition`.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, FAILED, EXPIRED, REFUND_PENDING}),
    SETTLING: frozenset({PAID, FAILED, REFUNDED, REFUND_PENDING, REFUND_FAILED}),
    PAID: frozenset(),
    FAILED: frozenset({REFUND_PENDING}),
    EXPIRED: frozenset({REFUND_PENDING}),
    REFUND_PENDING: frozenset({REFUNDED, REFUND_FAILED}),
    REFUNDED: frozenset(),
    REFUND_FAILED: frozenset({REFUNDED}),
}

# Orders in these statuses still need work and sit on the GSI3 work queue (sparse: the others leave it).
QUEUED_STATUSES = frozenset({PENDING_PAYMENT, SETTLING, REFUND_PENDING, REFUND_FAILED})
# Orders in these statuses hold a `reserved` cover marker for each insured.
RESERVING_STATUSES = frozenset({PENDING_PAYMENT, SETTLING})

# Cancellation refunds (REFUND#{id}).
RefundStatus = Literal["refund_pending", "refunded", "refund_failed"]
REFUND_STATUSES: tuple[str, ...] = (REFUND_PENDING, REFUNDED, REFUND_FAILED)
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    REFUND_PENDING: frozenset({REFUNDED, REFUND_FAILED}),
    REFUNDED: frozenset(),
    REFUND_FAILED: frozenset({REFUNDED}),
}

# The per-(plan, insured) cover marker: one person, one plan, one order at a time.
COVER_RESERVED = "reserved"  # an order in flight holds the person (nothing charged yet, or being charged)
COVER_ISSUED = "issued"  # a policy covers the person (markers written before reservations existed have no state)


class IllegalTransition(Conflict):
    """A move the lifecycle table lacks: a bug or a stale read, never applied."""

    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__("STATE_CONFLICT", kind=kind, current=current, target=target)


def transition(current: str, target: str, table: dict[str, frozenset[str]] = ORDER_TRANSITIONS,
               kind: str = "order") -> str:
    """`target` if the table allows current → target; raises IllegalTransition otherwise."""
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(kind, current, target)
    return target


def refund_transition(current: str, target: str) -> str:
    return transition(current, target, REFUND_TRANSITIONS, kind="refund")


def cover_issued(marker: dict | None) -> bool:
    """A cover marker that stands for a policy (not a reservation)."""
    return marker is not None and marker.get("state", COVER_ISSUED) == COVER_ISSUED
