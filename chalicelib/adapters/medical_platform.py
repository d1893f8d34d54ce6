"""The 医保 platform port: person lookup, personal-account balances, deduction and refund (each carrying an
idempotency key), and settlement records.

Two adapters: `SimulatedPlatform` (in-memory, served over HTTP by the sandbox) and `HttpPlatform` (deployed stages,
the JSON contract in docs/medical-platform.md). Both satisfy the same contract tests.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Protocol

from chalicelib.domain.platform import (AccountSource, Balances, Deduction, PlatformPerson, Refund, Settlement)


class PlatformError(Exception):
    """A refusal the platform stated (code), e.g. INSUFFICIENT_BALANCE, PERSON_NOT_FOUND."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


class PlatformUnavailable(Exception):
    """Timeout or transport failure: the outcome is unknown — look it up by idempotency key before acting."""


class MedicalPlatform(Protocol):
    def find_person(self, id_number: str) -> PlatformPerson | None: ...

    def balances(self, id_number: str) -> Balances: ...

    def deduct(self, id_number: str, source: AccountSource, amount_fen: int, idempotency_key: str,
               reference: str) -> Deduction: ...

    def find_deduction(self, idempotency_key: str) -> Deduction | None: ...

    def refund(self, deduction_idempotency_key: str, amount_fen: int, idempotency_key: str) -> Refund: ...

    def settlements(self, since: datetime) -> list[Settlement]: ...


class SimulatedPlatform:
    """In-memory stand-in for the bureau's system. Thread-safe; data lives as long as the process.

    `fail_next` lets fault-injection tests make the next call time out *after* (or before) it took effect.
    """

    def __init__(self, clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.people: dict[str, PlatformPerson] = {}
        self.accounts: dict[str, dict[str, int]] = {}
        self.deductions: dict[str, Deduction] = {}  # by idempotency key
        self.refunds: dict[str, Refund] = {}  # by idempotency key
        self._settlements: list[Settlement] = []
        self.faults: list[tuple[str, str]] = []  # (operation, "before" | "after")
        self.calls: list[str] = []

    # ---- administration (sandbox) ---------------------------------------------------------------------------
    def register(self, person: PlatformPerson, current_fen: int = 0, prior_years_fen: int = 0) -> None:
        with self._lock:
            self.people[person.id_number] = person
            self.accounts[person.id_number] = {"current": current_fen, "prior_years": prior_years_fen}

    def add_settlement(self, settlement: Settlement) -> None:
        with self._lock:
            self._settlements.append(settlement)

    def fail_next(self, operation: str, when: str = "after") -> None:
        with self._lock:
            self.faults.append((operation, when))

    def _fault(self, operation: str, when: str) -> None:
        with self._lock:
            if (operation, when) in self.faults:
                self.faults.remove((operation, when))
                raise PlatformUnavailable(f"simulated timeout {when} {operation}")

    def statement(self, id_number: str) -> dict:
        with self._lock:
            acct = self.accounts.get(id_number, {"current": 0, "prior_years": 0})
            return {
                "account_current_fen": acct["current"],
                "account_prior_years_fen": acct["prior_years"],
                "deductions": [d.model_dump(mode="json") for d in self.deductions.values() if d.id_number == id_number],
                "refunds": [r.model_dump(mode="json") for r in self.refunds.values()
                            if self.deductions_by_id().get(r.deduction_id, None) is not None
                            and self.deductions_by_id()[r.deduction_id].id_number == id_number],
            }

    def deductions_by_id(self) -> dict[str, Deduction]:
        return {d.deduction_id: d for d in self.deductions.values()}

    # ---- the port -----------------------------------------------------------------------------------------
    def find_person(self, id_number: str) -> PlatformPerson | None:
        self.calls.append("find_person")
        self._fault("find_person", "before")
        with self._lock:
            return self.people.get(id_number)

    def balances(self, id_number: str) -> Balances:
        self.calls.append("balances")
        with self._lock:
            if id_number not in self.people:
                raise PlatformError("PERSON_NOT_FOUND")
            acct = self.accounts[id_number]
            return Balances(current_fen=acct["current"], prior_years_fen=acct["prior_years"])

    def deduct(self, id_number: str, source: AccountSource, amount_fen: int, idempotency_key: str,
               reference: str) -> Deduction:
        self.calls.append("deduct")
        self._fault("deduct", "before")
        with self._lock:
            existing = self.deductions.get(idempotency_key)
            if existing is not None:
                if (existing.id_number, existing.source, existing.amount_fen) != (id_number, source, amount_fen):
                    raise PlatformError("IDEMPOTENCY_KEY_REUSED")
                result = existing
            else:
                person = self.people.get(id_number)
                if person is None:
                    raise PlatformError("PERSON_NOT_FOUND")
                if person.basic_type != "employee":
                    raise PlatformError("NO_PERSONAL_ACCOUNT")
                if amount_fen <= 0:
                    raise PlatformError("INVALID_AMOUNT")
                acct = self.accounts[id_number]
                if acct[source] < amount_fen:
                    raise PlatformError("INSUFFICIENT_BALANCE")
                acct[source] -= amount_fen
                result = Deduction(deduction_id=f"DED{uuid.uuid4().hex[:20].upper()}",
                                   idempotency_key=idempotency_key, id_number=id_number, source=source,
                                   amount_fen=amount_fen, at=self._clock.now(), reference=reference)
                self.deductions[idempotency_key] = result
        self._fault("deduct", "after")
        return result

    def find_deduction(self, idempotency_key: str) -> Deduction | None:
        self.calls.append("find_deduction")
        with self._lock:
            return self.deductions.get(idempotency_key)

    def refund(self, deduction_idempotency_key: str, amount_fen: int, idempotency_key: str) -> Refund:
        self.calls.append("refund")
        self._fault("refund", "before")
        with self._lock:
            existing = self.refunds.get(idempotency_key)
            if existing is not None:
                result = existing
            else:
                deduction = self.deductions.get(deduction_idempotency_key)
                if deduction is None:
                    raise PlatformError("DEDUCTION_NOT_FOUND")
                already = sum(r.amount_fen for r in self.refunds.values() if r.deduction_id == deduction.deduction_id)
                if amount_fen <= 0 or already + amount_fen > deduction.amount_fen:
                    raise PlatformError("REFUND_EXCEEDS_DEDUCTION")
                self.accounts[deduction.id_number][deduction.source] += amount_fen
                result = Refund(refund_id=f"REF{uuid.uuid4().hex[:20].upper()}", idempotency_key=idempotency_key,
                                deduction_id=deduction.deduction_id, amount_fen=amount_fen, at=self._clock.now())
                self.refunds[idempotency_key] = result
                if already + amount_fen == deduction.amount_fen:
                    self.deductions[deduction_idempotency_key] = deduction.model_copy(update={"status": "refunded"})
        self._fault("refund", "after")
        return result

    def settlements(self, since: datetime) -> list[Settlement]:
        with self._lock:
            return [s for s in self._settlements if s.settled_at >= since]
