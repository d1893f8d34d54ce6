"""Paying a claim out (DOMAIN §11.3, API.md v1.1): a bank transfer to the member's payee account, as plain values.

A transfer is asked for once per claim (its idempotency key) and confirms later: `processing` → `succeeded` or
`failed` (the bank's reason). A claim is `paid` only when its transfer succeeded; a failed transfer makes it
`payout_failed` with a staff task. No I/O here; the port is chalicelib/adapters/payout.py.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TransferStatus = Literal["processing", "succeeded", "failed"]
# Reasons a bank gives for a transfer that did not go through (the payout gateway's codes).
FAILURE_CODES: tuple[str, ...] = ("ACCOUNT_INVALID", "ACCOUNT_NAME_MISMATCH", "ACCOUNT_FROZEN", "BANK_REJECTED")


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Payee(_Value):
    """Where the money goes. Sensitive (PIPL): stored encrypted, shown masked, never logged."""

    account_name: str = Field(min_length=1, max_length=60)
    bank_name: str = Field(min_length=1, max_length=60)
    account_number: str = Field(pattern=r"^[0-9]{8,30}$")


class Transfer(_Value):
    transfer_id: str
    idempotency_key: str
    amount_fen: int
    status: TransferStatus
    failure_code: str | None = None
    reference: str = ""
    requested_at: datetime
    finished_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.status != "processing"
