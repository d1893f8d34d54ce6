"""Taking attempts from the rate-limit port, and the security event each refusal leaves in the log.

The event line names what was refused and for which scope; it carries no ID number, phone, name or address (the
subject is a keyed hash or an account id and is not logged). The stack turns these lines into a metric and an alarm.
"""
from __future__ import annotations

from chalicelib.adapters.rate_limits import Limit, Verdict
from chalicelib.domain.errors import TooManyRequests

SECURITY_EVENT_KEY = "security_event"  # the JSON field the stack's metric filter matches


def security_event(event: str, **fields: str | int) -> None:
    from chalicelib.observability import logger

    logger().warning("security event", extra={SECURITY_EVENT_KEY: event, **fields})


def refused(verdict: Verdict, limit: Limit, event: str) -> TooManyRequests:
    security_event(event, scope=limit.scope, limit=limit.limit, window_seconds=limit.window_seconds)
    return TooManyRequests("RATE_LIMITED", retry_after=verdict.retry_after)


def take(limiter, limit: Limit, subject: str, now: int, event: str) -> Verdict:
    """Count one attempt, or raise 429 RATE_LIMITED (retry_after) and log the security event."""
    verdict = limiter.hit(limit, subject, now)
    if not verdict.allowed:
        raise refused(verdict, limit, event)
    return verdict


def require_room(limiter, limit: Limit, subject: str, now: int, event: str) -> None:
    """Refuse (429) when the window is already full, counting nothing."""
    verdict = limiter.peek(limit, subject, now)
    if not verdict.allowed:
        raise refused(verdict, limit, event)
