"""Make moto's DynamoDB as atomic — and as flat in cost — as the real service, for the local sandbox and the tests.

Two defects of moto (5.x) matter here:

1. It runs a TransactWriteItems check-then-write without a lock and, when any item fails, restores a deep copy of the
   whole table taken when it started — erasing what other threads committed meanwhile. DynamoDB serialises writes
   per item; one lock around moto's backend operations gives the same guarantee, so concurrency tests (and
   `make run` under concurrent clients) exercise OUR conditions (versions, statuses, uniqueness markers), not
   moto's races.
2. That deep copy costs O(table) per transaction (45 ms per 3-item transaction at ~1 000 items, 215 ms at ~4 000),
   so any batch of a few thousand items turns quadratic. Under the lock, the rollback only needs the items the
   transaction touches: each write moto's transaction makes goes through the backend's put/update/delete, which
   journal the item they are about to change (a copy, or "absent") the first time they see its key. moto's own
   table copy is made a no-op while a journal is open (a shim for the `copy` module in moto's backend module
   returns a Table as itself), and when moto cancels the transaction the journal puts those items back. moto's
   transaction code itself — conditions, one-operation-per-item, cancellation reasons — runs unchanged.

`bench/moto_scaling.py` measures the cost per transaction against the table size.
"""
from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

_READS = ("get_item", "query", "scan", "batch_get_item")
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_lock = threading.RLock()
_state = threading.local()  # .journal: the open transaction's journal (this thread's), or absent
_patched = False
_journalling = True  # False only inside `stock_rollback()` (the benchmark's "before" figure)


class _Journal:
    """The items a transaction is about to change, as they were before its first change to each."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, Any, Any, Any]] = []  # (table, hash value, range value, Item copy | None)
        self._seen: set[tuple[int, Any, Any]] = set()

    def remember(self, table: Any, hash_value: Any, range_value: Any) -> None:
        seen = (id(table), hash_value, range_value)
        if seen in self._seen:
            return
        self._seen.add(seen)
        current = table.get_item(hash_value, range_value)
        self.entries.append((table, hash_value, range_value, copy.deepcopy(current)))

    def restore(self) -> None:
        """Put every journalled item back as it was; items created by the transaction are removed."""
        for table, hash_value, range_value, before in reversed(self.entries):
            if range_value is not None:
                partition = table.items[hash_value]
                if before is None:
                    partition.pop(range_value, None)
                    if not partition:
                        table.items.pop(hash_value, None)
                else:
                    partition[range_value] = before
            elif before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before


class _TableSharingCopy:
    """Replaces the `copy` module inside moto.dynamodb.models: while a journal is open, deep-copying a Table (moto's
    whole-table transaction backup) returns the table itself; everything else is deep-copied as before."""

    def __init__(self, table_class: type) -> None:
        self._table_class = table_class

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict | None = None) -> Any:
        if isinstance(value, self._table_class) and getattr(_state, "journal", None) is not None:
            return value
        return copy.deepcopy(value, memo)


def _journal_key(backend: Any, table_name: str, attrs: dict[str, Any]) -> None:
    """Journal the item a write inside a transaction is about to change (its key taken from `attrs`)."""
    journal: _Journal | None = getattr(_state, "journal", None)
    if journal is None:
        return
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        table = backend.get_table(table_name)
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except Exception:  # noqa: BLE001 — a malformed key: moto refuses the write itself, nothing to journal
        return
    journal.remember(table, hash_value, range_value)


def _locked(original):
    def locked(self, *args, **kwargs):
        with _lock:
            return original(self, *args, **kwargs)

    return locked


def _journalled_write(original, name: str):
    def write(self, *args, **kwargs):
        with _lock:
            if name != "batch_write_item" and getattr(_state, "journal", None) is not None:
                table_name = args[0] if args else kwargs["table_name"]
                attrs = (args[1] if len(args) > 1 else kwargs["item_attrs" if name == "put_item" else "key"])
                _journal_key(self, table_name, attrs)
            return original(self, *args, **kwargs)

    return write


def _journalled_transaction(original):
    def transact_write_items(self, *args, **kwargs):
        with _lock:
            if not _journalling:
                return original(self, *args, **kwargs)
            journal = _Journal()
            _state.journal = journal
            try:
                return original(self, *args, **kwargs)
            except BaseException:
                journal.restore()
                raise
            finally:
                _state.journal = None

    return transact_write_items


def make_dynamodb_atomic() -> None:
    """Idempotent: one process-wide re-entrant lock around moto's DynamoDBBackend operations, and transactions that
    roll back only the items they touched."""
    global _patched
    if _patched:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    for name in _READS:
        setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
    for name in _WRITES:
        setattr(DynamoDBBackend, name, _journalled_write(getattr(DynamoDBBackend, name), name))
    DynamoDBBackend.transact_write_items = _journalled_transaction(DynamoDBBackend.transact_write_items)
    models.copy = _TableSharingCopy(Table)
    _patched = True


@contextlib.contextmanager
def stock_rollback() -> Iterator[None]:
    """moto's own whole-table backup for the transactions run inside (the benchmark's reference figure)."""
    global _journalling
    previous, _journalling = _journalling, False
    try:
        yield
    finally:
        _journalling = previous
