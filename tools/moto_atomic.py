"""Make moto's DynamoDB as atomic as the real service, for the local sandbox and the tests.

moto runs a TransactWriteItems check-then-write without a lock and, when any item fails, restores a deep copy of the
whole table taken when it started — erasing what other threads committed meanwhile. DynamoDB serialises writes per
item; one lock around moto's backend operations gives the same guarantee, so concurrency tests (and `make run` under
concurrent clients) exercise OUR conditions (versions, statuses, uniqueness markers), not moto's races.
"""
from __future__ import annotations

import threading

_OPERATIONS = ("transact_write_items", "put_item", "update_item", "delete_item", "get_item", "query", "scan",
               "batch_get_item", "batch_write_item")
_lock = threading.RLock()
_patched = False


def make_dynamodb_atomic() -> None:
    """Idempotent: wraps moto's DynamoDBBackend operations in one process-wide re-entrant lock."""
    global _patched
    if _patched:
        return
    from moto.dynamodb.models import DynamoDBBackend

    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(self, *args, _original=original, **kwargs):
            with _lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    _patched = True
