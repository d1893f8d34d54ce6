"""SMS login codes ⇄ items (docs/access-patterns.md, SMS code): the only code that knows their key and the
conditions that keep a code from being used twice or guessed past the limit.

    SMS#{phone} / CODE    (expires with TTL at valid_until)

Every write after the read is conditional on the very code read still being live (its hash, attempts below the
limit), so concurrent tries cannot exceed the limit nor use a code twice.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.domain.account import SmsCode

_KEY_ATTRIBUTES = frozenset({schema.PARTITION_KEY, schema.SORT_KEY, schema.TTL_ATTRIBUTE})
_LIVE = "code_hash = :h AND attempts < :max"


class SmsCodeStore(Protocol):
    def issue(self, code: SmsCode, resend_before: int) -> bool: ...

    def get(self, phone: str) -> SmsCode | None: ...

    def withdraw(self, phone: str, code_hash: str) -> None: ...

    def consume(self, phone: str, code_hash: str, max_attempts: int) -> bool: ...

    def count_wrong(self, phone: str, code_hash: str, max_attempts: int) -> int | None: ...


def _code_of(phone: str, item: dict[str, Any]) -> SmsCode:
    return SmsCode.model_validate({"phone": phone, **{k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}})


class SmsCodeRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def issue(self, code: SmsCode, resend_before: int) -> bool:
        """Store a new code unless one was sent after `resend_before` (False). A code "sent in the future" only
        exists when the sandbox clock was moved back; it does not block."""
        item = {**keys.sms_code(code.phone), **code.model_dump(exclude={"phone"}),
                schema.TTL_ATTRIBUTE: code.valid_until}
        try:
            self.table.put(item, condition="attribute_not_exists(PK) OR sent_epoch <= :resend_before "
                                           "OR sent_epoch > :now",
                           values={":resend_before": resend_before, ":now": code.sent_epoch})
        except ConditionFailed:
            return False
        return True

    def get(self, phone: str) -> SmsCode | None:
        item = self.table.get(keys.sms_code(phone))
        return _code_of(phone, item) if item else None

    def withdraw(self, phone: str, code_hash: str) -> None:
        """Forget our own code (sending it failed); a newer one stays."""
        try:
            self.table.delete(keys.sms_code(phone), condition="code_hash = :h", values={":h": code_hash})
        except ConditionFailed:
            pass

    def consume(self, phone: str, code_hash: str, max_attempts: int) -> bool:
        """Use the code: False if it was used, replaced or voided meanwhile."""
        try:
            self.table.delete(keys.sms_code(phone), condition=_LIVE, values={":h": code_hash, ":max": max_attempts})
        except ConditionFailed:
            return False
        return True

    def count_wrong(self, phone: str, code_hash: str, max_attempts: int) -> int | None:
        """One more wrong try: the attempts now, or None if the code is no longer live."""
        try:
            updated = self.table.update(keys.sms_code(phone), "SET attempts = attempts + :one", condition=_LIVE,
                                        values={":h": code_hash, ":max": max_attempts, ":one": 1})
        except ConditionFailed:
            return None
        return int(updated["attempts"])


class InMemorySmsCodeRepository:
    """The twin (tests/contract/test_account_repository.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, SmsCode] = {}

    def issue(self, code: SmsCode, resend_before: int) -> bool:
        with self._lock:
            current = self._codes.get(code.phone)
            if current is not None and resend_before < current.sent_epoch <= code.sent_epoch:
                return False
            self._codes[code.phone] = code.model_copy()
            return True

    def get(self, phone: str) -> SmsCode | None:
        code = self._codes.get(phone)
        return code.model_copy() if code else None

    def withdraw(self, phone: str, code_hash: str) -> None:
        with self._lock:
            if (current := self._codes.get(phone)) is not None and current.code_hash == code_hash:
                del self._codes[phone]

    def _live(self, phone: str, code_hash: str, max_attempts: int) -> SmsCode | None:
        current = self._codes.get(phone)
        return current if current and current.code_hash == code_hash and current.attempts < max_attempts else None

    def consume(self, phone: str, code_hash: str, max_attempts: int) -> bool:
        with self._lock:
            if self._live(phone, code_hash, max_attempts) is None:
                return False
            del self._codes[phone]
            return True

    def count_wrong(self, phone: str, code_hash: str, max_attempts: int) -> int | None:
        with self._lock:
            current = self._live(phone, code_hash, max_attempts)
            if current is None:
                return None
            self._codes[phone] = current.model_copy(update={"attempts": current.attempts + 1})
            return current.attempts + 1
