"""Scheduled jobs (registered in app.py). Each is a plain function of the event, wired to the ports by deps."""
from __future__ import annotations

from typing import Any


def reconcile_orders(event: Any = None) -> dict[str, int]:
    """Every 10 minutes: settle orders a failure left `settling`/`refund_pending`, resend pending refunds."""
    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.orders import reconcile

    counts = reconcile(deps.table(), deps.clock().now())
    logger().info("orders reconciled", extra=counts)
    return counts
