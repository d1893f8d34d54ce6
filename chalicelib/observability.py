"""Structured JSON logs (Powertools Logger), built on first use. Never log ID numbers, names, bills or accounts."""
from __future__ import annotations

import threading

_lock = threading.Lock()
_logger = None


def logger():
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                from aws_lambda_powertools import Logger

                # service name differs from the Chalice app name: Powertools + Chalice would otherwise log twice.
                _logger = Logger(service="huiminbao-api", log_uncaught_exceptions=False)
    return _logger
