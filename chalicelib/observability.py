"""Structured JSON logs (Powertools Logger), built on first use. Never log ID numbers, names, bills or accounts.

Every line carries the ids of the request it belongs to: `request_id` (API Gateway's, which its access log and the
client's `x-amzn-RequestId` show) and `lambda_request_id` (the invocation's, which Lambda's own START/END/REPORT
lines show). app.py's middleware binds them per invocation (`bind_request_ids`) in a context variable — setting it
imports nothing — and a logging filter copies them onto each record when a line is written.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_logger = None
_request_ids: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("hmb_request_ids", default=None)


class _RequestIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_request_ids.get() or {}).items():
            setattr(record, name, value)
        return True


def logger():
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                from aws_lambda_powertools import Logger

                # service name differs from the Chalice app name: Powertools + Chalice would otherwise log twice.
                built = Logger(service="huiminbao-api", log_uncaught_exceptions=False)
                built.addFilter(_RequestIds())
                _logger = built
    return _logger


def ids_of(event: Any) -> dict[str, str]:
    """The request ids of a Chalice event: an HTTP request (API Gateway's requestContext and the Lambda context)
    or an event-source event (SQS, schedule: the Lambda context only)."""
    ids: dict[str, str] = {}
    context = getattr(event, "context", None)
    if isinstance(context, dict) and context.get("requestId"):
        ids["request_id"] = str(context["requestId"])
    lambda_context = getattr(event, "lambda_context", None) or (None if isinstance(context, dict) else context)
    lambda_id = getattr(lambda_context, "aws_request_id", None)
    if lambda_id:
        ids["lambda_request_id"] = str(lambda_id)
    return ids


@contextlib.contextmanager
def bind_request_ids(ids: dict[str, str]) -> Iterator[None]:
    token = _request_ids.set(dict(ids))
    try:
        yield
    finally:
        _request_ids.reset(token)
