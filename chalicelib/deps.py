"""Composition root: builds each port lazily on first use and caches it for the life of the process.

Deployed stages get real adapters; the local stage gets simulators. Tests replace any port with `override`.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from chalicelib.config import get_settings

_lock = threading.RLock()
_instances: dict[str, Any] = {}
_factories: dict[str, Callable[[], Any]] = {}


def provider(name: str):
    """Register the factory of a port. Factories import their adapter modules lazily."""

    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        _factories[name] = fn
        return fn

    return register


def get(name: str) -> Any:
    inst = _instances.get(name)
    if inst is not None:
        return inst
    with _lock:
        inst = _instances.get(name)
        if inst is None:
            inst = _factories[name]()
            _instances[name] = inst
    return inst


def override(name: str, instance: Any) -> None:
    with _lock:
        _instances[name] = instance


def reset() -> None:
    """Forget every built port (tests; settings changes)."""
    with _lock:
        _instances.clear()


# ---- factories --------------------------------------------------------------------------------------------------
@provider("clock")
def _clock():
    from chalicelib.adapters.clock import SandboxClock, SystemClock

    return SandboxClock() if get_settings().is_local else SystemClock()


@provider("table")
def _table():
    from chalicelib.adapters.dynamodb import Table, dynamodb_client

    s = get_settings()
    return Table(dynamodb_client(s.region), s.table_name)


def clock():
    return get("clock")


def table():
    return get("table")
