"""An idempotency record (API.md: same key + same body → the first response again; same key + another body → 409).
Fields named once, here; keys, conditions and transaction items are the repository's
(adapters/repositories/idempotency.py). Pure: no I/O."""
from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import Conflict

IdempotencyState = Literal["in_progress", "completed"]


class IdempotencyRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    scope: str  # the caller (account id) and the operation (records written before 2026-12 carry it in the key only)
    key: str  # the client's Idempotency-Key
    request_hash: str
    state: IdempotencyState
    created_at: str
    expires_at: int  # epoch seconds (the table's TTL)
    resource_id: str | None = None
    status_code: int | None = None
    response: str | None = None  # the first answer's body, as JSON text

    def replay(self, request_hash: str) -> dict[str, Any]:
        """The first answer ({status, body}) for a retry of the same request; 409 IDEMPOTENCY_KEY_REUSED for another
        body, 409 IDEMPOTENCY_IN_FLIGHT while the first request is still running."""
        if self.request_hash != request_hash:
            raise Conflict("IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key")
        if self.state != "completed":
            raise Conflict("IDEMPOTENCY_IN_FLIGHT", field="Idempotency-Key", resource_id=self.resource_id)
        return {"status": int(self.status_code or 0), "body": json.loads(self.response or "null")}
