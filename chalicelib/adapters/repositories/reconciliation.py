"""Reconciliation differences (对账差异) ⇄ items: one per (day, kind, idempotency key), written once.

    RECON#{day} / DIFF#{kind}#{idempotency key}     (a day's differences, read together by staff)

`DynamoReconciliationDifferences` is the only code that knows the item; `InMemoryReconciliationDifferences` is its twin
(tests/contract/test_reconciliation_repository.py holds both to one contract).
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.domain.reconciliation import ReconciliationDifference

_KEYS = frozenset({"PK", "SK"})


class ReconciliationDifferences(Protocol):
    def add(self, difference: ReconciliationDifference) -> bool: ...
    def for_day(self, day: str) -> list[ReconciliationDifference]: ...


def _of(item: dict[str, Any]) -> ReconciliationDifference:
    return ReconciliationDifference.model_validate({k: v for k, v in item.items() if k not in _KEYS})


class DynamoReconciliationDifferences:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, difference: ReconciliationDifference) -> bool:
        """Store a difference unless the same one (day, kind, key) is stored already: True if stored now."""
        item = {**difference.model_dump(exclude_none=True),
                **keys.reconciliation_difference(difference.day, difference.kind, difference.idempotency_key)}
        try:
            self.table.put(item, condition="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def for_day(self, day: str) -> list[ReconciliationDifference]:
        pk, prefix = keys.reconciliation_day(day)
        return [_of(item) for item in self.table.query_all("PK", pk, sk_name="SK", sk_prefix=prefix)]


class InMemoryReconciliationDifferences:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], ReconciliationDifference] = {}

    def add(self, difference: ReconciliationDifference) -> bool:
        key = (difference.day, difference.kind, difference.idempotency_key)
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = difference.model_copy(deep=True)
            return True

    def for_day(self, day: str) -> list[ReconciliationDifference]:
        with self._lock:
            found = [(k, d) for k, d in self._items.items() if k[0] == day]
        return [d.model_copy(deep=True) for _, d in sorted(found, key=lambda kd: (kd[0][1], kd[0][2]))]
