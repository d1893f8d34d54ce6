"""Family members ⇄ items (docs/access-patterns.md, Family member): the only code that knows their keys.

    ACCOUNT#{account} / MEMBER#{member_id}      GSI1 PERSON#{id_hash} / MEMBER#{account}   (who added this person)
    ACCOUNT#{account} / QUOTA#member_checks#{day}   the day's platform checks (expires with TTL)
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.adapters.repositories.memory import MemoryStore
from chalicelib.domain.family import FamilyMember

_KEY_ATTRIBUTES = frozenset({"PK", "SK", *(name for pair in schema.GSIS.values() for name in pair)})
_QUOTA_RETENTION = timedelta(days=2)


class FamilyStore(Protocol):
    def get(self, account_id: str, member_id: str) -> FamilyMember | None: ...

    def members(self, account_id: str) -> list[FamilyMember]: ...

    def add(self, member: FamilyMember) -> bool: ...

    def remove(self, account_id: str, member_id: str) -> bool: ...

    def member_for(self, account_id: str, id_hash: str) -> FamilyMember | None: ...

    def take_check(self, account_id: str, day: str, limit: int, now: datetime) -> bool: ...


def member_item(member: FamilyMember) -> dict[str, Any]:
    return {**member.model_dump(exclude_none=True), **keys.family_member(member.account_id, member.member_id),
            **keys.gsi_person(member.id_hash, f"MEMBER#{member.account_id}")}


def member_of(item: dict[str, Any]) -> FamilyMember:
    return FamilyMember.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})


class FamilyRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, account_id: str, member_id: str) -> FamilyMember | None:
        item = self.table.get(keys.family_member(account_id, member_id))
        return member_of(item) if item else None

    def members(self, account_id: str) -> list[FamilyMember]:
        """The account's members, in member id order (the sort key)."""
        pk, prefix = keys.family_member_prefix(account_id)
        return [member_of(i) for i in self.table.query_all(schema.PARTITION_KEY, pk, sk_prefix=prefix)]

    def add(self, member: FamilyMember) -> bool:
        """False if the account already has this member."""
        try:
            self.table.put(member_item(member), condition="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def remove(self, account_id: str, member_id: str) -> bool:
        """False if the account has no such member."""
        try:
            self.table.delete(keys.family_member(account_id, member_id), condition="attribute_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def member_for(self, account_id: str, id_hash: str) -> FamilyMember | None:
        """The member by which `account_id` added the person `id_hash`, if it did."""
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
        k = keys.gsi_person(id_hash, f"MEMBER#{account_id}")
        items, _ = self.table.query(pk_name, k[pk_name], index=schema.GSI_BY_PERSON, sk_name=sk_name,
                                    sk_prefix=k[sk_name], limit=1)
        return member_of(items[0]) if items else None

    def take_check(self, account_id: str, day: str, limit: int, now: datetime) -> bool:
        """Count one platform check against the account's quota of `day`: False once `limit` were used."""
        try:
            self.table.update(keys.daily_quota(account_id, "member_checks", day),
                              f"ADD used :one SET {schema.TTL_ATTRIBUTE} = :exp",
                              condition="attribute_not_exists(used) OR used < :limit",
                              values={":one": 1, ":limit": limit,
                                      ":exp": int((now + _QUOTA_RETENTION).timestamp())})
        except ConditionFailed:
            return False
        return True


class InMemoryFamilyRepository:
    """The twin (tests/contract/test_family_repository.py)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self._lock = threading.Lock()
        self._members: dict[tuple[str, str], FamilyMember] = (store or MemoryStore()).family_members  # shared
        self._checks: dict[tuple[str, str], int] = {}

    def get(self, account_id: str, member_id: str) -> FamilyMember | None:
        member = self._members.get((account_id, member_id))
        return member.model_copy() if member else None

    def members(self, account_id: str) -> list[FamilyMember]:
        with self._lock:
            found = [m for (a, _), m in self._members.items() if a == account_id]
        return [m.model_copy() for m in sorted(found, key=lambda m: m.member_id)]

    def add(self, member: FamilyMember) -> bool:
        with self._lock:
            if (member.account_id, member.member_id) in self._members:
                return False
            self._members[(member.account_id, member.member_id)] = member.model_copy()
            return True

    def remove(self, account_id: str, member_id: str) -> bool:
        with self._lock:
            return self._members.pop((account_id, member_id), None) is not None

    def member_for(self, account_id: str, id_hash: str) -> FamilyMember | None:
        return next((m.model_copy() for (a, _), m in sorted(self._members.items())
                     if a == account_id and m.id_hash == id_hash), None)

    def take_check(self, account_id: str, day: str, limit: int, now: datetime) -> bool:
        with self._lock:
            used = self._checks.get((account_id, day), 0)
            if used >= limit:
                return False
            self._checks[(account_id, day)] = used + 1
            return True
