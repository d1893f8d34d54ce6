"""Accounts, their logins and identity bindings ⇄ items (docs/access-patterns.md, Account / Login / Person): the only
code that knows their keys and the conditions that keep one account per login and one account per person.

    ACCOUNT#{id} / ACCOUNT           the account (its bound person's fields once 实名)
    LOGIN#{channel}#{subject} / LOGIN   uniqueness marker: one account per openid / per phone
    PERSON#{hash} / PERSON           a real person known by the keyed hash of their ID number (no ID in any key)
    PERSON#{hash} / BOUND            uniqueness marker: an ID number is bound to at most one account
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.adapters.repositories.memory import MemoryStore
from chalicelib.domain.account import Account, BoundPerson

_KEY_ATTRIBUTES = frozenset({schema.PARTITION_KEY, schema.SORT_KEY})
_BOUND_FIELDS = ("person_hash", "person_name", "id_enc", "birth_date", "sex", "identity_bound_at")


class AlreadyBoundToAnother(Exception):
    """bind: the account already holds another person."""


class PersonBoundElsewhere(Exception):
    """bind: another account holds the person."""


class BindingMoved(Exception):
    """recover: the binding is no longer the account's we meant to take it from (freed or taken meanwhile)."""


class AccountStore(Protocol):
    def get(self, account_id: str) -> Account | None: ...

    def many(self, account_ids: set[str]) -> dict[str, Account]: ...

    def by_login(self, channel: str, subject: str) -> str | None: ...

    def create(self, account: Account, channel: str, subject: str) -> bool: ...

    def bound_account(self, id_hash: str) -> str | None: ...

    def bind(self, account_id: str, person: BoundPerson, at: str) -> None: ...

    def recover(self, account_id: str, from_account_id: str, person: BoundPerson, at: str) -> None: ...


def account_of(item: dict[str, Any]) -> Account:
    return Account.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})


class AccountRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, account_id: str) -> Account | None:
        item = self.table.get(keys.account(account_id))
        return account_of(item) if item else None

    def many(self, account_ids: set[str]) -> dict[str, Account]:
        if not account_ids:
            return {}
        found = (account_of(i) for i in self.table.batch_get([keys.account(a) for a in sorted(account_ids)]))
        return {a.account_id: a for a in found}

    @staticmethod
    def key_of(account_id: str) -> dict[str, str]:
        """The account's table key, for callers batching it into one read with other items."""
        return keys.account(account_id)

    def by_login(self, channel: str, subject: str) -> str | None:
        """The account that logs in with this openid/phone, if it ever logged in."""
        marker = self.table.get(keys.login_marker(channel, subject))
        return marker["account_id"] if marker is not None else None

    def create(self, account: Account, channel: str, subject: str) -> bool:
        """The account and its login marker in one transaction, each refused if it exists: False if the login (or,
        never in practice, the account id) was taken first — two concurrent first logins make one account."""
        try:
            self.table.transact([
                TxOp.put({**keys.login_marker(channel, subject), "account_id": account.account_id,
                          "created_at": account.created_at}),
                TxOp.put({**account.model_dump(exclude_none=True), **keys.account(account.account_id)})])
        except ConditionFailed:
            return False
        return True

    def bound_account(self, id_hash: str) -> str | None:
        """The account the person is bound to, if any."""
        marker = self.table.get(keys.identity_binding(id_hash))
        return marker.get("account_id") if marker else None

    @staticmethod
    def _person_op(person: BoundPerson) -> TxOp:
        # The person may already be known (e.g. as someone's family member): fill only what is missing.
        return TxOp.update_item(
            keys.person(person.id_hash),
            "SET id_hash = if_not_exists(id_hash, :h), id_enc = if_not_exists(id_enc, :enc), "
            "#name = if_not_exists(#name, :name), birth_date = if_not_exists(birth_date, :born), "
            "sex = if_not_exists(sex, :sex), region_code = if_not_exists(region_code, :region)",
            names={"#name": "name"},
            values={":h": person.id_hash, ":enc": person.id_enc, ":name": person.name, ":born": person.birth_date,
                    ":sex": person.sex, ":region": person.region_code})

    @staticmethod
    def _bind_account_op(account_id: str, person: BoundPerson, at: str) -> TxOp:
        return TxOp.update_item(
            keys.account(account_id),
            "SET person_hash = :h, person_name = :name, id_enc = :enc, birth_date = :born, sex = :sex, "
            "identity_bound_at = if_not_exists(identity_bound_at, :at)",
            condition="attribute_exists(PK) AND (attribute_not_exists(person_hash) OR person_hash = :h)",
            values={":h": person.id_hash, ":name": person.name, ":enc": person.id_enc, ":born": person.birth_date,
                    ":sex": person.sex, ":at": at})

    def bind(self, account_id: str, person: BoundPerson, at: str) -> None:
        """Person, binding marker and account in one transaction. Idempotent for the same person; raises
        AlreadyBoundToAnother (the account holds someone else) or PersonBoundElsewhere (another account holds
        the person)."""
        try:
            self.table.transact([
                self._person_op(person),
                TxOp.update_item(keys.identity_binding(person.id_hash),
                                 "SET account_id = :me, bound_at = if_not_exists(bound_at, :at)",
                                 condition="attribute_not_exists(PK) OR account_id = :me",
                                 values={":me": account_id, ":at": at}),
                self._bind_account_op(account_id, person, at)])
        except ConditionFailed as exc:
            if len(exc.reasons) > 2 and exc.reasons[2] == "ConditionalCheckFailed":
                raise AlreadyBoundToAnother(account_id) from None
            raise PersonBoundElsewhere(person.id_hash) from None

    def recover(self, account_id: str, from_account_id: str, person: BoundPerson, at: str) -> None:
        """Move the binding from `from_account_id` (its bound fields removed, identity_lost_at set) to
        `account_id`, in one transaction conditional on that account still holding it. Raises
        AlreadyBoundToAnother (our account holds someone else) or BindingMoved."""
        try:
            self.table.transact([
                self._person_op(person),
                TxOp.update_item(keys.identity_binding(person.id_hash), "SET account_id = :me, bound_at = :at, "
                                 "recovered_from = :other", condition="account_id = :other",
                                 values={":me": account_id, ":at": at, ":other": from_account_id}),
                TxOp.update_item(keys.account(from_account_id), f"REMOVE {', '.join(_BOUND_FIELDS)} "
                                 "SET identity_lost_at = :at", condition="person_hash = :h",
                                 values={":h": person.id_hash, ":at": at}),
                self._bind_account_op(account_id, person, at)])
        except ConditionFailed as exc:
            if len(exc.reasons) > 3 and exc.reasons[3] == "ConditionalCheckFailed":
                raise AlreadyBoundToAnother(account_id) from None
            raise BindingMoved(person.id_hash) from None


class InMemoryAccountRepository:
    """The twin (tests/contract/test_account_repository.py)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = (store or MemoryStore()).accounts  # shared: orders' placing_reads
        self._logins: dict[tuple[str, str], str] = {}
        self._bindings: dict[str, str] = {}
        self.people: dict[str, BoundPerson] = {}

    def get(self, account_id: str) -> Account | None:
        with self._lock:
            account = self._accounts.get(account_id)
            return account.model_copy(deep=True) if account else None

    def many(self, account_ids: set[str]) -> dict[str, Account]:
        return {a: account for a in account_ids if (account := self.get(a)) is not None}

    def by_login(self, channel: str, subject: str) -> str | None:
        return self._logins.get((channel, subject))

    def create(self, account: Account, channel: str, subject: str) -> bool:
        with self._lock:
            if (channel, subject) in self._logins or account.account_id in self._accounts:
                return False
            self._logins[(channel, subject)] = account.account_id
            self._accounts[account.account_id] = account.model_copy(deep=True)
            return True

    def bound_account(self, id_hash: str) -> str | None:
        return self._bindings.get(id_hash)

    def _bound(self, account: Account, person: BoundPerson, at: str) -> Account:
        return account.model_copy(update={"person_hash": person.id_hash, "person_name": person.name,
                                          "id_enc": person.id_enc, "birth_date": person.birth_date,
                                          "sex": person.sex, "identity_bound_at": account.identity_bound_at or at})

    def bind(self, account_id: str, person: BoundPerson, at: str) -> None:
        with self._lock:
            account = self._accounts.get(account_id)
            holder = self._bindings.get(person.id_hash)
            if account is None or account.person_hash not in (None, person.id_hash):
                raise AlreadyBoundToAnother(account_id)
            if holder not in (None, account_id):
                raise PersonBoundElsewhere(person.id_hash)
            self.people.setdefault(person.id_hash, person)
            self._bindings[person.id_hash] = account_id
            self._accounts[account_id] = self._bound(account, person, at)

    def recover(self, account_id: str, from_account_id: str, person: BoundPerson, at: str) -> None:
        with self._lock:
            account, other = self._accounts.get(account_id), self._accounts.get(from_account_id)
            if account is None or account.person_hash not in (None, person.id_hash):
                raise AlreadyBoundToAnother(account_id)
            if (self._bindings.get(person.id_hash) != from_account_id or other is None
                    or other.person_hash != person.id_hash):
                raise BindingMoved(person.id_hash)
            self.people.setdefault(person.id_hash, person)
            self._bindings[person.id_hash] = account_id
            self._accounts[from_account_id] = other.model_copy(
                update={**dict.fromkeys(_BOUND_FIELDS), "identity_lost_at": at})
            self._accounts[account_id] = self._bound(account, person, at)
