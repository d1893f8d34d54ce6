"""Scheduled jobs (registered in app.py). Each is a plain function of the event, wired to the ports by deps."""
from __future__ import annotations

from typing import Any


def reconcile_orders(event: Any = None) -> dict[str, int]:
    """Every 10 minutes: settle orders a failure left `settling`/`refund_pending`, resend pending refunds."""
    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.orders import reconcile

    counts = reconcile(deps.order_ports(), deps.clock().now())
    logger().info("orders reconciled", extra=counts)
    return counts


def claim_deadline_sweep(event: Any = None) -> dict[str, Any]:
    """Daily: count the claims past their statutory decision deadline (15 working days, 001 §五) by status. The
    WARNING line is what the deadline alarm's metric filter counts; staff see the same claims first in their queue."""
    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.claims import overdue_claims

    today = deps.clock().today()
    overdue = overdue_claims(deps.table(), today)
    by_status: dict[str, int] = {}
    for claim in overdue:
        by_status[claim["status"]] = by_status.get(claim["status"], 0) + 1
    summary = {"as_of": today.isoformat(), "overdue": len(overdue), "by_status": by_status,
               "oldest_decision_due": overdue[0]["decision_due"] if overdue else None}
    if overdue:
        logger().warning("claims past their decision deadline", extra=summary)
    else:
        logger().info("no claim past its decision deadline", extra=summary)
    return summary
