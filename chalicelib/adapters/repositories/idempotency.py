"""Idempotency records ⇄ items (docs/access-patterns.md, Idempotency): the only code that knows their key and the
conditions of their transaction items.

    IDEMPOTENCY#{scope}#{key} / IDEMPOTENCY    (expires with TTL after RETENTION)

The record is written *inside* the transaction it guards (`completed_op`), so a retry either sees the finished
result or finds nothing and redoes the whole write — never half of it. Operations with an external side effect
(a 医保 deduction, a WeChat prepay) first claim the key (`in_progress_op`, in the transaction recording the order) so
concurrent duplicates stop before calling out; `release_op` frees it when nothing was kept.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import Table, TxOp
from chalicelib.adapters.repositories.memory import MemoryStore, Write, with_twin
from chalicelib.domain.idempotency import IdempotencyRecord

RETENTION = timedelta(days=7)
_KEY_ATTRIBUTES = frozenset({schema.PARTITION_KEY, schema.SORT_KEY})
_STILL_OURS = {"condition": "#state = :in_progress AND request_hash = :h", "names": {"#state": "state"}}


class IdempotencyStore(Protocol):
    def get(self, scope: str, key: str) -> IdempotencyRecord | None: ...

    def save(self, record: IdempotencyRecord) -> None: ...


def new_record(scope: str, key: str, request_hash: str, now: datetime, state: str, **extra: Any) -> IdempotencyRecord:
    return IdempotencyRecord(scope=scope, key=key, request_hash=request_hash, state=state, created_at=now.isoformat(),
                             expires_at=int((now + RETENTION).timestamp()), **extra)


def record_item(record: IdempotencyRecord) -> dict[str, Any]:
    return {**record.model_dump(exclude_none=True), **keys.idempotency(record.scope, record.key)}


def _still_ours(store: MemoryStore, scope: str, key: str, request_hash: str) -> bool:
    current = store.idempotency.get((scope, key))
    return current is not None and current.state == "in_progress" and current.request_hash == request_hash


def _stored(store: MemoryStore, record: IdempotencyRecord, holds: bool) -> Write | None:
    if not holds:
        return None

    def write() -> None:
        store.idempotency[(record.scope, record.key)] = record
    return write


def record_of(item: dict[str, Any], scope: str, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.model_validate({"scope": scope, "key": key,
                                             **{k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}})


class IdempotencyRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        item = self.table.get(keys.idempotency(scope, key))
        return record_of(item, scope, key) if item else None

    def save(self, record: IdempotencyRecord) -> None:
        self.table.put(record_item(record))

    @staticmethod
    def key_of(scope: str, key: str) -> dict[str, str]:
        """The record's table key, for callers batching it into one read with other items."""
        return keys.idempotency(scope, key)

    @staticmethod
    def in_progress_op(scope: str, key: str, request_hash: str, now: datetime, resource_id: str) -> TxOp:
        """The transaction item claiming the key before an external side effect: refused if the key exists."""
        record = new_record(scope, key, request_hash, now, "in_progress", resource_id=resource_id)
        return with_twin(TxOp.put(record_item(record)),
                         lambda store: _stored(store, record, (scope, key) not in store.idempotency))

    @staticmethod
    def completed_op(scope: str, key: str, request_hash: str, now: datetime, status_code: int, response: Any,
                     resource_id: str = "", reserved: bool = False) -> TxOp:
        """The transaction item that stores the outcome. With `reserved`, it must still be ours and in progress."""
        record = new_record(scope, key, request_hash, now, "completed", status_code=status_code,
                            response=json.dumps(response, ensure_ascii=False, default=str), resource_id=resource_id)
        item = record_item(record)
        if reserved:
            return with_twin(TxOp.put(item, condition=_STILL_OURS["condition"], names=_STILL_OURS["names"],
                                      values={":in_progress": "in_progress", ":h": request_hash}),
                             lambda store: _stored(store, record, _still_ours(store, scope, key, request_hash)))
        return with_twin(TxOp.put(item), lambda store: _stored(store, record, (scope, key) not in store.idempotency))

    @staticmethod
    def release_op(scope: str, key: str, request_hash: str) -> TxOp:
        """The transaction item forgetting a claim whose operation ended with nothing kept (the member may retry)."""
        def release(store: MemoryStore) -> Write | None:
            if not _still_ours(store, scope, key, request_hash):
                return None

            def write() -> None:
                store.idempotency.pop((scope, key), None)
            return write

        return with_twin(TxOp.delete(keys.idempotency(scope, key), condition=_STILL_OURS["condition"],
                                     names=_STILL_OURS["names"],
                                     values={":in_progress": "in_progress", ":h": request_hash}), release)


class InMemoryIdempotencyRepository:
    """The twin (tests/contract/test_idempotency_repository.py)."""

    key_of = staticmethod(IdempotencyRepository.key_of)
    in_progress_op = staticmethod(IdempotencyRepository.in_progress_op)
    completed_op = staticmethod(IdempotencyRepository.completed_op)
    release_op = staticmethod(IdempotencyRepository.release_op)

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self._lock = self.store.lock
        self._records: dict[tuple[str, str], IdempotencyRecord] = self.store.idempotency

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        with self._lock:
            record = self._records.get((scope, key))
            return record.model_copy() if record else None

    def save(self, record: IdempotencyRecord) -> None:
        with self._lock:
            self._records[(record.scope, record.key)] = record.model_copy()
