"""The scheduled reconciliation: settle what a failure left behind, expire unpaid WeChat orders, resend refunds."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from chalicelib.domain.errors import (
    DomainError,
    UpstreamUnavailable,
)
from chalicelib.domain.order import Order, Refund
from chalicelib.domain.order_lifecycle import (
    PENDING_PAYMENT,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
)
from chalicelib.services.orders.cancellation import execute_refund
from chalicelib.services.orders.common import LEASE, _reverse_order_payment
from chalicelib.services.orders.personal_account import settle
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.wechat import _expires_at, expire_unpaid_order


def reconcile(ports: OrderPorts, now: datetime) -> dict[str, int]:
    """Settle what a failure left behind (scheduled every 10 minutes; also `POST /sandbox/jobs/reconcile`):
    - orders `settling` whose lease expired: issue if every deduction is found at the platform, else undo;
    - WeChat orders `pending_payment` past their expiry: close them at WeChat, then `expired` (people freed);
    - orders `refund_pending`: return the payment;
    - cancellation refunds still pending: send them again.
    Every step is idempotent, so overlapping runs and a member's concurrent retry cannot double anything."""
    counts = {"issued": 0, "failed": 0, "refunded": 0, "still_pending": 0, "refunds_sent": 0, "expired": 0,
              "errors": 0}

    def settle_order(order: Order) -> str:
        claimed = ports.orders.claim_lease(order.order_id, SETTLING, now, LEASE)
        if claimed is None:
            return "still_pending"
        try:
            settle(ports, claimed, now, deduct=False)
            return "issued"
        except UpstreamUnavailable:
            return "still_pending"
        except DomainError:
            return "failed"

    def expire_order(order: Order) -> str:
        if _expires_at(order) > now:
            return "still_pending"
        return "expired" if expire_unpaid_order(ports, order, now) else "still_pending"

    def refund_order(order: Order) -> str:
        return "refunded" if _reverse_order_payment(ports, order, now) else "still_pending"

    def send_refund(refund: Refund) -> str:
        done = execute_refund(ports, refund, now).status == REFUNDED
        return "refunds_sent" if done else "still_pending"

    steps: list[tuple[str, Iterable[Order] | Iterable[Refund], Callable]] = [
        ("ORDER", ports.orders.queued(SETTLING), settle_order),
        ("ORDER", ports.orders.queued(PENDING_PAYMENT), expire_order),
        ("ORDER", ports.orders.queued(REFUND_PENDING), refund_order),
        ("REFUND", ports.orders.queued_refunds(REFUND_PENDING), send_refund)]
    for kind, queue, step in steps:  # each queue is read lazily, entry by entry re-read strongly by the repository
        for entry in queue:
            try:
                counts[step(entry)] += 1
            except Exception:  # noqa: BLE001 — one bad item must never stop the queue behind it
                from chalicelib.observability import logger

                counts["errors"] += 1
                entity_id = entry.order_id if isinstance(entry, Order) else entry.refund_id
                logger().exception("reconciliation item failed", extra={"kind": kind, "id": entity_id})
    return counts
