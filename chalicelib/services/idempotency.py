"""Idempotency for writes that move money (API.md: same key + same body → the first response again; same key +
another body → 409). The record, its key and its transaction items are the repository's
(adapters/repositories/idempotency.py); this module hashes request bodies and answers retries.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from chalicelib.adapters.repositories.idempotency import IdempotencyRepository, IdempotencyStore

# The transaction items, named where the callers (orders, claims, bulk, renewals) have always found them.
in_progress_op = IdempotencyRepository.in_progress_op
completed_op = IdempotencyRepository.completed_op
release_op = IdempotencyRepository.release_op


def body_hash(body: Any) -> str:
    """Stable hash of a request body (a pydantic model, dict, or raw bytes)."""
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json")
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def lookup(records: IdempotencyStore, scope: str, key: str, request_hash: str) -> dict[str, Any] | None:
    """The stored outcome ({status, body}) for this key, or None if the key is new.

    Raises 409 IDEMPOTENCY_KEY_REUSED when the key was used with another body, and 409 IDEMPOTENCY_IN_FLIGHT while
    the first request is still running.
    """
    record = records.get(scope, key)
    return None if record is None else record.replay(request_hash)
