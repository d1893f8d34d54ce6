"""The rate-limit port: fixed-window attempt counters.

`DynamoRateLimiter` keeps each counter as one item updated with a conditional atomic `ADD` (so concurrent
attempts cannot exceed the limit) that expires by TTL; `MemoryRateLimiter` is its in-memory twin. Both pass the
same contract tests (tests/contract/test_rate_limits_contract.py).

A limit and its verdict are domain values (domain/limits.py); windows are aligned to Beijing midnight there.
"""
from __future__ import annotations

import threading
from typing import Protocol

from chalicelib.domain.limits import Limit, Verdict

__all__ = ["DynamoRateLimiter", "Limit", "MemoryRateLimiter", "RateLimiter", "Verdict"]


class RateLimiter(Protocol):
    def hit(self, limit: Limit, subject: str, now: int) -> Verdict:
        """Count one attempt if the window has room (allowed), else count nothing (refused)."""

    def peek(self, limit: Limit, subject: str, now: int) -> Verdict:
        """Would an attempt now be allowed? Counts nothing."""

    def reset(self) -> None:
        """Forget every counter (the sandbox's POST /sandbox/limits/reset)."""


class DynamoRateLimiter:
    def __init__(self, table) -> None:
        self._table = table

    def hit(self, limit: Limit, subject: str, now: int) -> Verdict:
        from chalicelib.adapters import keys, schema
        from chalicelib.adapters.dynamodb import ConditionFailed

        start, end = limit.window(now)
        try:
            item = self._table.update(
                keys.rate_counter(limit.scope, subject, start), f"ADD hits :one SET {schema.TTL_ATTRIBUTE} = :ttl",
                condition="attribute_not_exists(hits) OR hits < :limit",
                values={":one": 1, ":limit": limit.limit, ":ttl": end + 3600})
        except ConditionFailed:
            return Verdict(False, limit.limit, max(1, end - now))
        return Verdict(True, int(item["hits"]), max(1, end - now))

    def peek(self, limit: Limit, subject: str, now: int) -> Verdict:
        from chalicelib.adapters import keys

        start, end = limit.window(now)
        item = self._table.get(keys.rate_counter(limit.scope, subject, start))
        count = int(item["hits"]) if item else 0
        return Verdict(count < limit.limit, count, max(1, end - now))

    def reset(self) -> None:
        from chalicelib.adapters import keys

        client, name = self._table.client, self._table.name
        for page in client.get_paginator("scan").paginate(
                TableName=name, ProjectionExpression="PK, SK", FilterExpression="begins_with(PK, :p)",
                ExpressionAttributeValues={":p": {"S": keys.RATE_COUNTER_PREFIX}}):
            for key in page.get("Items", []):
                client.delete_item(TableName=name, Key=key)


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str, int], int] = {}

    def hit(self, limit: Limit, subject: str, now: int) -> Verdict:
        start, end = limit.window(now)
        with self._lock:
            count = self._hits.get((limit.scope, subject, start), 0)
            if count >= limit.limit:
                return Verdict(False, limit.limit, max(1, end - now))
            self._hits[(limit.scope, subject, start)] = count + 1
            return Verdict(True, count + 1, max(1, end - now))

    def peek(self, limit: Limit, subject: str, now: int) -> Verdict:
        start, end = limit.window(now)
        with self._lock:
            count = self._hits.get((limit.scope, subject, start), 0)
        return Verdict(count < limit.limit, count, max(1, end - now))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
