"""The 医保 platform port: person lookup, personal-account balances, deduction and refund (each carrying an
idempotency key), and settlement records.

Two adapters: `SimulatedPlatform` (in-memory, served over HTTP by the sandbox) and `HttpPlatform`
(medical_platform_http.py, deployed stages; the JSON contract is docs/medical-platform.md). Both pass the same
contract tests (tests/contract/test_medical_platform.py).
"""
from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta, timezone
from typing import Protocol

from chalicelib.domain.platform import (
    AccountSource,
    Balances,
    Deduction,
    DeductionNotice,
    NoticeReceipt,
    NoticeReply,
    PlatformPerson,
    Refund,
    Settlement,
    StatementEntry,
)

# The platform's own refusal codes (the `code` of its error bodies).
PERSON_NOT_FOUND = "PERSON_NOT_FOUND"
NO_PERSONAL_ACCOUNT = "NO_PERSONAL_ACCOUNT"
INVALID_AMOUNT = "INVALID_AMOUNT"
INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
DEDUCTION_NOT_FOUND = "DEDUCTION_NOT_FOUND"
REFUND_EXCEEDS_DEDUCTION = "REFUND_EXCEEDS_DEDUCTION"
NO_PHONE_ON_RECORD = "NO_PHONE_ON_RECORD"

NOTICE_NOT_FOUND = "NOTICE_NOT_FOUND"

OPERATIONS = ("find_person", "balances", "deduct", "find_deduction", "refund", "settlements_after",
              "send_deduction_notice", "notice_replies", "account_statement",
              "send_identity_proof", "check_identity_proof")
PAGE_LIMIT = 500  # the most records one page of settlements or replies carries
CHINA_TZ = timezone(timedelta(hours=8))  # the platform keeps its books in China time

# Identity proof (核验码): a code the platform texts to the phone it holds for the person.
PROOF_CODE_LENGTH = 6
PROOF_VALIDITY_SECONDS = 300
PROOF_MAX_WRONG = 5
FAULT_TIMINGS = ("before", "after")


class PlatformError(Exception):
    """A refusal the platform stated (code), e.g. INSUFFICIENT_BALANCE, PERSON_NOT_FOUND. Nothing happened."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if message else code)


class PlatformUnavailable(Exception):
    """Timeout or transport failure: the outcome is unknown — look it up by idempotency key before acting."""


class MedicalPlatform(Protocol):
    def find_person(self, id_number: str) -> PlatformPerson | None: ...

    def balances(self, id_number: str) -> Balances: ...

    def deduct(self, id_number: str, source: AccountSource, amount_fen: int, idempotency_key: str,
               reference: str) -> Deduction: ...

    def find_deduction(self, idempotency_key: str) -> Deduction | None: ...

    def refund(self, deduction_idempotency_key: str, amount_fen: int, idempotency_key: str) -> Refund: ...

    def settlements_after(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[Settlement]: ...

    def send_deduction_notice(self, notice: DeductionNotice) -> NoticeReceipt: ...

    def notice_replies(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[NoticeReply]: ...

    def account_statement(self, day: date) -> list[StatementEntry]: ...

    def send_identity_proof(self, id_number: str) -> str:
        """Text a one-time code to the phone the platform holds for this person; the phone, masked (138****8000).
        PlatformError PERSON_NOT_FOUND / NO_PHONE_ON_RECORD."""

    def check_identity_proof(self, id_number: str, code: str) -> bool:
        """Is this the person's live code? A right code is used up; five wrong ones void it."""


class SimulatedPlatform:
    """In-memory stand-in for the bureau's system. Thread-safe; data lives as long as the process.

    `fail_next(operation, "before" | "after")` makes the next call of that operation raise `PlatformUnavailable`
    before it takes effect, or after (the effect stays: the caller must find out by idempotency key).
    """

    def __init__(self, clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.people: dict[str, PlatformPerson] = {}
        self.accounts: dict[str, dict[str, int]] = {}  # id_number → {"current": fen, "prior_years": fen}
        self.deductions: dict[str, Deduction] = {}  # by the caller's idempotency key
        self.refunds: dict[str, Refund] = {}  # by the caller's idempotency key
        self._refund_targets: dict[str, str] = {}  # refund idempotency key → deduction idempotency key
        self._settlements: list[Settlement] = []  # in sequence order
        self.notices: dict[str, DeductionNotice] = {}  # by the caller's idempotency key
        self._receipts: dict[str, NoticeReceipt] = {}
        self._replies: list[NoticeReply] = []
        self.faults: list[tuple[str, str]] = []  # pending (operation, "before" | "after")
        self.calls: list[str] = []  # operations called, in order (tests assert on round trips)
        self.phones: dict[str, str] = {}  # id_number → the phone the platform holds
        self.proofs: dict[str, dict] = {}  # id_number → {code, sent_to, expires, wrong}

    # ---- administration (sandbox) ---------------------------------------------------------------------------
    def register(self, person: PlatformPerson, current_fen: int = 0, prior_years_fen: int = 0) -> None:
        """Add or replace a person; a resident (城乡居民) has no personal account, so their balances stay 0."""
        with self._lock:
            self.people[person.id_number] = person
            self.accounts[person.id_number] = {"current": current_fen, "prior_years": prior_years_fen}

    def set_phone(self, id_number: str, phone: str | None) -> None:
        with self._lock:
            if phone:
                self.phones[id_number] = phone
            else:
                self.phones.pop(id_number, None)

    def last_proof(self, id_number: str) -> dict | None:
        """The live identity-proof code texted for this person (sandbox view), or None."""
        with self._lock:
            proof = self.proofs.get(id_number)
            return dict(proof) if proof else None

    def add_settlement(self, settlement: Settlement) -> Settlement:
        """Publish a record: it takes the next sequence number, whatever its settlement time."""
        with self._lock:
            published = settlement.model_copy(update={"seq": len(self._settlements) + 1})
            self._settlements.append(published)
            return published

    def reply_to_notice(self, idempotency_key: str, reply: str = "stop") -> NoticeReply:
        """The person answers a deduction notice through the platform's own channel (医保 app, SMS reply)."""
        with self._lock:
            if idempotency_key not in self.notices:
                raise PlatformError(NOTICE_NOT_FOUND)
            answer = NoticeReply(seq=len(self._replies) + 1, notice_idempotency_key=idempotency_key,
                                 reply=reply, at=self._clock.now())  # type: ignore[arg-type]
            self._replies.append(answer)
            return answer

    def fail_next(self, operation: str, when: str = "after") -> None:
        if operation not in OPERATIONS or when not in FAULT_TIMINGS:
            raise ValueError(f"unknown fault {operation!r} {when!r}")
        with self._lock:
            self.faults.append((operation, when))

    def statement(self, id_number: str) -> dict:
        """What the platform holds for one person: balances and their deductions and refunds (sandbox view)."""
        with self._lock:
            acct = self.accounts.get(id_number, {"current": 0, "prior_years": 0})
            deductions = [d for d in self.deductions.values() if d.id_number == id_number]
            theirs = {d.deduction_id for d in deductions}
            return {
                "account_current_fen": acct["current"],
                "account_prior_years_fen": acct["prior_years"],
                "deductions": [d.model_dump(mode="json") for d in deductions],
                "refunds": [r.model_dump(mode="json") for r in self.refunds.values() if r.deduction_id in theirs],
            }

    # ---- the port -----------------------------------------------------------------------------------------
    def find_person(self, id_number: str) -> PlatformPerson | None:
        with self._call("find_person"):
            return self.people.get(id_number)

    def balances(self, id_number: str) -> Balances:
        with self._call("balances"):
            if id_number not in self.people:
                raise PlatformError(PERSON_NOT_FOUND)
            acct = self.accounts[id_number]
            return Balances(current_fen=acct["current"], prior_years_fen=acct["prior_years"])

    def deduct(self, id_number: str, source: AccountSource, amount_fen: int, idempotency_key: str,
               reference: str) -> Deduction:
        with self._call("deduct"):
            existing = self.deductions.get(idempotency_key)
            if existing is not None:
                if (existing.id_number, existing.source, existing.amount_fen) != (id_number, source, amount_fen):
                    raise PlatformError(IDEMPOTENCY_KEY_REUSED)
                return existing
            person = self.people.get(id_number)
            if person is None:
                raise PlatformError(PERSON_NOT_FOUND)
            if person.basic_type != "employee":
                raise PlatformError(NO_PERSONAL_ACCOUNT)
            if amount_fen <= 0 or source not in ("current", "prior_years"):
                raise PlatformError(INVALID_AMOUNT)
            acct = self.accounts[id_number]
            if acct[source] < amount_fen:
                raise PlatformError(INSUFFICIENT_BALANCE)
            acct[source] -= amount_fen
            deduction = Deduction(deduction_id=f"DED{uuid.uuid4().hex[:20].upper()}",
                                  idempotency_key=idempotency_key, id_number=id_number, source=source,
                                  amount_fen=amount_fen, at=self._clock.now(), reference=reference)
            self.deductions[idempotency_key] = deduction
            return deduction

    def find_deduction(self, idempotency_key: str) -> Deduction | None:
        with self._call("find_deduction"):
            return self.deductions.get(idempotency_key)

    def refund(self, deduction_idempotency_key: str, amount_fen: int, idempotency_key: str) -> Refund:
        with self._call("refund"):
            existing = self.refunds.get(idempotency_key)
            if existing is not None:
                if (self._refund_targets[idempotency_key], existing.amount_fen) != (deduction_idempotency_key,
                                                                                  amount_fen):
                    raise PlatformError(IDEMPOTENCY_KEY_REUSED)
                return existing
            deduction = self.deductions.get(deduction_idempotency_key)
            if deduction is None:
                raise PlatformError(DEDUCTION_NOT_FOUND)
            if amount_fen <= 0:
                raise PlatformError(INVALID_AMOUNT)
            already = sum(r.amount_fen for r in self.refunds.values() if r.deduction_id == deduction.deduction_id)
            if already + amount_fen > deduction.amount_fen:
                raise PlatformError(REFUND_EXCEEDS_DEDUCTION)
            self.accounts[deduction.id_number][deduction.source] += amount_fen
            refund = Refund(refund_id=f"REF{uuid.uuid4().hex[:20].upper()}", idempotency_key=idempotency_key,
                            deduction_id=deduction.deduction_id, amount_fen=amount_fen, at=self._clock.now())
            self.refunds[idempotency_key] = refund
            self._refund_targets[idempotency_key] = deduction_idempotency_key
            if already + amount_fen == deduction.amount_fen:
                self.deductions[deduction_idempotency_key] = deduction.model_copy(update={"status": "refunded"})
            return refund

    def settlements_after(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[Settlement]:
        """Records published after sequence number `after_seq`, in sequence order, at most `limit`."""
        with self._call("settlements_after"):
            return self._settlements[max(after_seq, 0):max(after_seq, 0) + max(min(limit, PAGE_LIMIT), 1)]

    def send_deduction_notice(self, notice: DeductionNotice) -> NoticeReceipt:
        with self._call("send_deduction_notice"):
            existing = self.notices.get(notice.idempotency_key)
            if existing is not None:
                if existing != notice:
                    raise PlatformError(IDEMPOTENCY_KEY_REUSED)
                return self._receipts[notice.idempotency_key]
            if notice.id_number not in self.people:
                raise PlatformError(PERSON_NOT_FOUND)
            receipt = NoticeReceipt(notice_id=f"NTC{uuid.uuid4().hex[:20].upper()}",
                                    idempotency_key=notice.idempotency_key, sent_at=self._clock.now())
            self.notices[notice.idempotency_key] = notice
            self._receipts[notice.idempotency_key] = receipt
            return receipt

    def notice_replies(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[NoticeReply]:
        with self._call("notice_replies"):
            return self._replies[max(after_seq, 0):max(after_seq, 0) + max(min(limit, PAGE_LIMIT), 1)]

    def account_statement(self, day: date) -> list[StatementEntry]:
        """The day's deductions and refunds (China time), in time order: what 对账 compares our records with."""
        with self._call("account_statement"):
            entries = [StatementEntry(kind="deduction", idempotency_key=d.idempotency_key,
                                      deduction_idempotency_key=d.idempotency_key, amount_fen=d.amount_fen, at=d.at,
                                      reference=d.reference) for d in self.deductions.values()]
            entries += [StatementEntry(kind="refund", idempotency_key=key, deduction_idempotency_key=target,
                                       amount_fen=self.refunds[key].amount_fen, at=self.refunds[key].at)
                        for key, target in self._refund_targets.items()]
            return sorted((e for e in entries if e.at.astimezone(CHINA_TZ).date() == day), key=lambda e: e.at)

    def send_identity_proof(self, id_number: str) -> str:
        import secrets

        from chalicelib.domain.masking import mask_phone

        with self._call("send_identity_proof"):
            if id_number not in self.people:
                raise PlatformError(PERSON_NOT_FOUND)
            phone = self.phones.get(id_number)
            if phone is None:
                raise PlatformError(NO_PHONE_ON_RECORD)
            code = f"{secrets.randbelow(10 ** PROOF_CODE_LENGTH):0{PROOF_CODE_LENGTH}d}"
            sent_to = mask_phone(phone)
            self.proofs[id_number] = {"code": code, "sent_to": sent_to, "wrong": 0,
                                      "expires": self._clock.now().timestamp() + PROOF_VALIDITY_SECONDS}
            return sent_to

    def check_identity_proof(self, id_number: str, code: str) -> bool:
        import hmac

        with self._call("check_identity_proof"):
            proof = self.proofs.get(id_number)
            if proof is None or self._clock.now().timestamp() >= proof["expires"]:
                return False
            if hmac.compare_digest(proof["code"], code):
                del self.proofs[id_number]
                return True
            proof["wrong"] += 1
            if proof["wrong"] >= PROOF_MAX_WRONG:
                del self.proofs[id_number]
            return False

    # ---- fault injection ----------------------------------------------------------------------------------
    def _call(self, operation: str) -> _Call:
        return _Call(self, operation)

    def _take_fault(self, operation: str, when: str) -> bool:
        with self._lock:
            if (operation, when) in self.faults:
                self.faults.remove((operation, when))
                return True
            return False


class _Call:
    """One port call: records it, holds the lock, and applies a pending fault before or after the effect.

    A refusal (PlatformError) is not turned into an "after" timeout: nothing happened, and the caller hears so.
    """

    def __init__(self, platform: SimulatedPlatform, operation: str) -> None:
        self._platform = platform
        self._operation = operation

    def __enter__(self) -> None:
        self._platform.calls.append(self._operation)
        if self._platform._take_fault(self._operation, "before"):
            raise PlatformUnavailable(f"simulated timeout before {self._operation}")
        self._platform._lock.acquire()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._platform._lock.release()
        if exc_type is None and self._platform._take_fault(self._operation, "after"):
            raise PlatformUnavailable(f"simulated timeout after {self._operation}")
