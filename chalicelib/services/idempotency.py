"""Idempotency records for writes that move money (API.md: same key + same body → the first response again;
same key + another body → 409).

The record is written *inside* the transaction it guards (`completed_op`), so a retry either sees the finished
result or finds nothing and redoes the whole write — never half of it. Operations with an external side effect
(a 医保 deduction, a WeChat prepay) first claim the key (`in_progress_op`, in the transaction recording the order) so
concurrent duplicates stop before calling out; `release_op` frees it when nothing was kept.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import Table, TxOp
from chalicelib.domain.errors import Conflict

RETENTION = timedelta(days=7)


def body_hash(body: Any) -> str:
    """Stable hash of a request body (a pydantic model, dict, or raw bytes)."""
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json")
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def lookup(table: Table, scope: str, key: str, request_hash: str) -> dict[str, Any] | None:
    """The stored outcome for this key, or None if the key is new.

    Raises 409 IDEMPOTENCY_KEY_REUSED when the key was used with another body, and 409 IDEMPOTENCY_IN_FLIGHT
    while the first request is still running.
    """
    item = table.get(keys.idempotency(scope, key))
    if item is None:
        return None
    if item["request_hash"] != request_hash:
        raise Conflict("IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key")
    if item["state"] != "completed":
        raise Conflict("IDEMPOTENCY_IN_FLIGHT", field="Idempotency-Key", resource_id=item.get("resource_id"))
    return {"status": int(item["status_code"]), "body": json.loads(item["response"])}


def _item(scope: str, key: str, request_hash: str, now: datetime, state: str, **extra: Any) -> dict[str, Any]:
    return {**keys.idempotency(scope, key), "request_hash": request_hash, "state": state, "created_at": now.isoformat(),
            "expires_at": int((now + RETENTION).timestamp()), **extra}


def in_progress_op(scope: str, key: str, request_hash: str, now: datetime, resource_id: str) -> TxOp:
    """The transaction item claiming the key before an external side effect (a deduction, a prepay): written with
    the order it guards, refused if the key exists — a concurrent duplicate then reads the record instead."""
    return TxOp.put(_item(scope, key, request_hash, now, "in_progress", resource_id=resource_id))


def completed_op(scope: str, key: str, request_hash: str, now: datetime, status_code: int, response: Any,
                 resource_id: str = "", reserved: bool = False) -> TxOp:
    """The transaction item that stores the outcome. With `reserved`, it must still be ours and in progress."""
    item = _item(scope, key, request_hash, now, "completed", status_code=status_code,
                 response=json.dumps(response, ensure_ascii=False, default=str), resource_id=resource_id)
    if reserved:
        return TxOp.put(item, condition="#state = :in_progress AND request_hash = :h",
                        names={"#state": "state"}, values={":in_progress": "in_progress", ":h": request_hash})
    return TxOp.put(item)


def release_op(scope: str, key: str, request_hash: str) -> TxOp:
    """The transaction item forgetting a claim whose operation ended with nothing kept (the member may retry)."""
    return TxOp.delete(keys.idempotency(scope, key), condition="#state = :in_progress AND request_hash = :h",
                       names={"#state": "state"}, values={":in_progress": "in_progress", ":h": request_hash})
