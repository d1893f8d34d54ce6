"""The settlement feed's cursor: the highest platform sequence number whose records are all on the queue.

Advanced only forward (a conditional update), so an older run finishing late never moves it back. `DynamoFeedCursor`
is the only code that knows the item; `InMemoryFeedCursor` is its twin (tests/contract/test_feed_cursor.py).
"""
from __future__ import annotations

import threading
from typing import Protocol

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import ConditionFailed


class FeedCursor(Protocol):
    def position(self) -> int: ...
    def advance(self, seq: int, at: str) -> bool: ...


class DynamoFeedCursor:
    def __init__(self, table) -> None:
        self.table = table

    def position(self) -> int:
        item = self.table.get(keys.settlement_feed_cursor())
        return int(item["seq"]) if item else 0

    def advance(self, seq: int, at: str) -> bool:
        """Move to `seq` if that is further on; False when it was not (another run got further)."""
        try:
            self.table.update(keys.settlement_feed_cursor(), "SET seq = :s, advanced_at = :at",
                              condition="attribute_not_exists(seq) OR seq < :s", values={":s": seq, ":at": at})
        except ConditionFailed:
            return False
        return True


class InMemoryFeedCursor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seq = 0

    def position(self) -> int:
        return self.seq

    def advance(self, seq: int, at: str) -> bool:
        with self._lock:
            if seq <= self.seq:
                return False
            self.seq = seq
            return True
