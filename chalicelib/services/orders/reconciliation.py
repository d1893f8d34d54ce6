"""The scheduled reconciliation: settle what a failure left behind, expire unpaid WeChat orders, resend refunds."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.adapters.repositories.orders import claim_lease, order_item, refund_item, refund_of
from chalicelib.domain.errors import (
    DomainError,
    UpstreamUnavailable,
)
from chalicelib.domain.order_lifecycle import (
    PENDING_PAYMENT,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
)
from chalicelib.services.orders.cancellation import _execute_refund
from chalicelib.services.orders.common import LEASE, _reverse_order_payment
from chalicelib.services.orders.personal_account import _settle
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.wechat import _expires_at, expire_unpaid_order


def reconcile(ports: OrderPorts, now: datetime) -> dict[str, int]:
    """Settle what a failure left behind (scheduled every 10 minutes; also `POST /sandbox/jobs/reconcile`):
    - orders `settling` whose lease expired: issue if every deduction is found at the platform, else undo;
    - WeChat orders `pending_payment` past their expiry: close them at WeChat, then `expired` (people freed);
    - orders `refund_pending`: return the payment;
    - cancellation refunds still pending: send them again.
    Every step is idempotent, so overlapping runs and a member's concurrent retry cannot double anything."""
    table = ports.table
    counts = {"issued": 0, "failed": 0, "refunded": 0, "still_pending": 0, "refunds_sent": 0, "expired": 0,
              "errors": 0}

    def settle_order(order: dict[str, Any]) -> str:
        claimed = claim_lease(table, order["order_id"], SETTLING, now, LEASE)
        if claimed is None:
            return "still_pending"
        try:
            _settle(ports, claimed, now, deduct=False)
            return "issued"
        except UpstreamUnavailable:
            return "still_pending"
        except DomainError:
            return "failed"

    def expire_order(order: dict[str, Any]) -> str:
        if _expires_at(order) > now:
            return "still_pending"
        return "expired" if expire_unpaid_order(ports, order, now) else "still_pending"

    def refund_order(order: dict[str, Any]) -> str:
        return "refunded" if _reverse_order_payment(ports, order, now) else "still_pending"

    def send_refund(refund: dict[str, Any]) -> str:
        done = _execute_refund(ports, refund_of(refund), now).status == REFUNDED
        return "refunds_sent" if done else "still_pending"

    for kind, status, step in (("ORDER", SETTLING, settle_order), ("ORDER", PENDING_PAYMENT, expire_order),
                               ("ORDER", REFUND_PENDING, refund_order),
                               ("REFUND", REFUND_PENDING, send_refund)):
        for item in _queue(ports, kind, status):
            try:
                counts[step(item)] += 1
            except Exception:  # noqa: BLE001 — one bad item must never stop the queue behind it
                from chalicelib.observability import logger

                counts["errors"] += 1
                logger().exception("reconciliation item failed",
                                   extra={"kind": kind, "id": item.get("order_id") or item.get("refund_id")})
    return counts


def _queue(ports: OrderPorts, kind: str, status: str) -> Iterator[dict[str, Any]]:
    """The work queue's items, each freshly re-read by the repository, as the stored items the settling steps
    work on (they are not yet typed end to end)."""
    if kind == "ORDER":
        yield from (order_item(order) for order in ports.orders.queued(status))
    else:
        yield from (refund_item(refund) for refund in ports.orders.queued_refunds(status))
