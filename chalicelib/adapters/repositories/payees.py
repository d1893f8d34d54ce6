"""Members' payee accounts (收款账户, `PUT /v1/me/payee`): where automatic claims (免申即享) are paid.

One item per account (`ACCOUNT#{id}` / `PAYEE`); the account number is stored encrypted with the account id as
associated data (a ciphertext copied to another account does not decrypt), and shown masked. `DynamoPayees` is the
only code that knows the item; `InMemoryPayees` is its twin (tests/contract/test_payee_repository.py runs both).
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from chalicelib.adapters import keys
from chalicelib.domain.claim_models import PayeeAccount


class Payees(Protocol):
    def get(self, account_id: str) -> PayeeAccount | None: ...
    def put(self, payee: PayeeAccount) -> None: ...


def payee_item(payee: PayeeAccount) -> dict[str, Any]:
    return {**keys.payee(payee.account_id), **payee.model_dump(mode="json")}


def payee_of(item: dict[str, Any]) -> PayeeAccount:
    return PayeeAccount.model_validate({k: v for k, v in item.items() if k in PayeeAccount.model_fields})


class DynamoPayees:
    def __init__(self, table) -> None:
        self.table = table

    def get(self, account_id: str) -> PayeeAccount | None:
        item = self.table.get(keys.payee(account_id))
        return payee_of(item) if item else None

    def put(self, payee: PayeeAccount) -> None:
        self.table.put(payee_item(payee))


class InMemoryPayees:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, PayeeAccount] = {}

    def get(self, account_id: str) -> PayeeAccount | None:
        return self.items.get(account_id)

    def put(self, payee: PayeeAccount) -> None:
        with self._lock:
            self.items[payee.account_id] = payee
