"""The payout port: bank transfers that pay claims (the insurer's payment gateway — 银企直联 or a WeChat Pay
transfer to a bank card behind it).

Every transfer carries the caller's idempotency key (one per claim): asking again with the same key and the same
amount and account returns the same transfer, never a second one; the same key with anything else is refused
(`IDEMPOTENCY_KEY_REUSED`). A timeout leaves the outcome unknown (`PayoutUnavailable`): look the transfer up by its
key before asking again. Transfers confirm asynchronously (`processing` → `succeeded` | `failed`); `statement(day)`
lists a day's transfers for the daily reconciliation.

Two adapters pass the same contract tests (tests/contract/test_payout_contract.py): `SimulatedPayouts` here
(in-memory; the sandbox serves it over HTTP) and `HttpPayouts` (payout_http.py, deployed stages).
"""
from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Protocol

from chalicelib.domain.payout import FAILURE_CODES, Payee, Transfer

INVALID_AMOUNT = "INVALID_AMOUNT"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"
OPERATIONS = ("transfer", "find", "statement")
FAULT_TIMINGS = ("before", "after")


class PayoutRefused(Exception):
    """The gateway refused the request outright (code); no transfer exists."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if message else code)


class PayoutUnavailable(Exception):
    """Timeout or transport failure: the outcome is unknown — `find` the key before acting again."""


class Payouts(Protocol):
    def transfer(self, payee: Payee, amount_fen: int, idempotency_key: str, reference: str) -> Transfer: ...

    def find(self, idempotency_key: str) -> Transfer | None: ...

    def statement(self, day: date) -> list[Transfer]: ...


class SimulatedPayouts:
    """In-memory stand-in for the payment gateway. Thread-safe.

    By default a transfer succeeds at once. `refuse_account(number, code)` makes transfers to that account fail
    with the bank's code; `hold()` keeps new transfers `processing` until `complete_pending()`;
    `fail_next(operation, "before" | "after")` simulates a timeout before or after the effect.
    """

    def __init__(self, clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.transfers: dict[str, Transfer] = {}  # by idempotency key
        self._requests: dict[str, tuple[str, int]] = {}  # key → (account number, amount): what was asked
        self._refused_accounts: dict[str, str] = {}
        self._holding = False
        self.faults: list[tuple[str, str]] = []
        self.calls: list[str] = []

    # ---- administration (sandbox, tests) ----------------------------------------------------------------------
    def refuse_account(self, account_number: str, code: str = "ACCOUNT_INVALID") -> None:
        if code not in FAILURE_CODES:
            raise ValueError(f"unknown bank failure code {code!r}")
        with self._lock:
            self._refused_accounts[account_number] = code

    def hold(self, holding: bool = True) -> None:
        with self._lock:
            self._holding = holding

    def complete_pending(self) -> int:
        """Confirm every transfer still processing (as the bank's end-of-batch would); how many."""
        with self._lock:
            pending = [k for k, t in self.transfers.items() if t.status == "processing"]
            for key in pending:
                self.transfers[key] = self._outcome(self.transfers[key], self._requests[key][0])
            return len(pending)

    def fail_next(self, operation: str, when: str = "after") -> None:
        if operation not in OPERATIONS or when not in FAULT_TIMINGS:
            raise ValueError(f"unknown fault {operation!r} {when!r}")
        with self._lock:
            self.faults.append((operation, when))

    # ---- the port -----------------------------------------------------------------------------------------------
    def transfer(self, payee: Payee, amount_fen: int, idempotency_key: str, reference: str) -> Transfer:
        self._fault("transfer", "before")
        with self._lock:
            existing = self.transfers.get(idempotency_key)
            if existing is not None:
                if self._requests[idempotency_key] != (payee.account_number, amount_fen):
                    raise PayoutRefused(IDEMPOTENCY_KEY_REUSED)
                result = existing
            else:
                if amount_fen <= 0:
                    raise PayoutRefused(INVALID_AMOUNT)
                result = Transfer(transfer_id=f"TRF{uuid.uuid4().hex[:20].upper()}", idempotency_key=idempotency_key,
                                  amount_fen=amount_fen, status="processing", reference=reference,
                                  requested_at=self._clock.now())
                if not self._holding:
                    result = self._outcome(result, payee.account_number)
                self.transfers[idempotency_key] = result
                self._requests[idempotency_key] = (payee.account_number, amount_fen)
        self._fault("transfer", "after")
        return result

    def find(self, idempotency_key: str) -> Transfer | None:
        self._fault("find", "before")
        with self._lock:
            return self.transfers.get(idempotency_key)

    def statement(self, day: date) -> list[Transfer]:
        self._fault("statement", "before")
        with self._lock:
            return sorted((t for t in self.transfers.values() if t.requested_at.date() == day),
                          key=lambda t: t.requested_at)

    # ---- internals ----------------------------------------------------------------------------------------------
    def _outcome(self, transfer: Transfer, account_number: str) -> Transfer:
        code = self._refused_accounts.get(account_number)
        return transfer.model_copy(update={"status": "failed" if code else "succeeded", "failure_code": code,
                                           "finished_at": self._clock.now()})

    def _fault(self, operation: str, when: str) -> None:
        with self._lock:
            if when == "before":
                self.calls.append(operation)
            if (operation, when) not in self.faults:
                return
            self.faults.remove((operation, when))
        raise PayoutUnavailable(f"simulated timeout {when} {operation}")
