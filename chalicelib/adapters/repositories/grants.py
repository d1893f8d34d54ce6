"""Authorisations (亲友代办) ⇄ items (docs/access-patterns.md, Authorisation): the only code that knows their keys.

    AUTHZ#{id} / AUTHZ    GSI1 PERSON#{grantor_hash} / AUTHZ#{id}   (grants a person gave, active and revoked)
                          GSI4 GRANTEE#{phone} / AUTHZ#{id}          (grants a phone holds; removed on revocation)

`held_by(phone)` is the one "active grants held by a phone" query that access, policies, claims and identity use.
`grantor_names` reads the grantors' Person items (PERSON#{hash} / PERSON) for the names shown, masked, to holders.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.domain.grant import REVOKED, Grant

_SORT_PREFIX = "AUTHZ#"
_KEY_ATTRIBUTES = frozenset({"PK", "SK", *(name for pair in schema.GSIS.values() for name in pair)})


class GrantExists(Exception):
    """`add` of an authorisation id that is already stored."""


class GrantRepository(Protocol):
    def add(self, grant: Grant) -> None: ...

    def get(self, authorization_id: str) -> Grant | None: ...

    def given_by(self, grantor_hash: str) -> list[Grant]: ...

    def held_by(self, phone: str) -> list[Grant]: ...

    def revoke(self, authorization_id: str, grantor_hash: str, at: str) -> Grant | None: ...

    def grantor_names(self, grantor_hashes: set[str]) -> dict[str, str]: ...


def grant_item(grant: Grant) -> dict[str, Any]:
    """The stored item: the grant's fields, its keys, its grantor's index entry and, while active, its holder's."""
    sort = f"{_SORT_PREFIX}{grant.authorization_id}"
    item = {**grant.model_dump(exclude_none=True), **keys.authorization(grant.authorization_id),
            **keys.gsi_person(grant.grantor_hash, sort)}
    if grant.active:
        item.update(keys.gsi_grantee(grant.grantee_phone, sort))
    return item


def grant_of(item: dict[str, Any]) -> Grant:
    return Grant.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})


class DynamoGrantRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, grant: Grant) -> None:
        try:
            self.table.put(grant_item(grant), condition="attribute_not_exists(PK)")
        except ConditionFailed:
            raise GrantExists(grant.authorization_id) from None

    def get(self, authorization_id: str) -> Grant | None:
        item = self.table.get(keys.authorization(authorization_id))
        return grant_of(item) if item else None

    def given_by(self, grantor_hash: str) -> list[Grant]:
        """Every grant the person gave, active and revoked, oldest first."""
        return self._query(schema.GSI_BY_PERSON, keys.gsi_person(grantor_hash, _SORT_PREFIX))

    def held_by(self, phone: str) -> list[Grant]:
        """The active grants held by whoever logs in with `phone`, oldest first."""
        return [g for g in self._query(schema.GSI_BY_GRANTEE, keys.gsi_grantee(phone, _SORT_PREFIX)) if g.active]

    def revoke(self, authorization_id: str, grantor_hash: str, at: str) -> Grant | None:
        """Revoked at once (its holder's index entry goes); None unless it is the grantor's and still stored."""
        gsi_pk, gsi_sk = schema.GSIS[schema.GSI_BY_GRANTEE]
        try:
            item = self.table.update(keys.authorization(authorization_id),
                                     f"SET #status = :revoked, revoked_at = :at REMOVE {gsi_pk}, {gsi_sk}",
                                     condition="attribute_exists(PK) AND grantor_hash = :me",
                                     names={"#status": "status"},
                                     values={":revoked": REVOKED, ":at": at, ":me": grantor_hash})
        except ConditionFailed:
            return None
        return grant_of(item)

    def grantor_names(self, grantor_hashes: set[str]) -> dict[str, str]:
        if not grantor_hashes:
            return {}
        return {p["id_hash"]: p["name"] for p in self.table.batch_get([keys.person(h) for h in sorted(grantor_hashes)])
                if p.get("id_hash") and p.get("name")}

    def _query(self, index: str, gsi_keys: dict[str, str]) -> list[Grant]:
        pk_name, sk_name = schema.GSIS[index]
        return [grant_of(item) for item in self.table.query_all(pk_name, gsi_keys[pk_name], index=index,
                                                                sk_name=sk_name, sk_prefix=gsi_keys[sk_name])]


class InMemoryGrantRepository:
    """The twin (tests/contract/test_grant_repository.py holds both to one contract). `names` stands for the
    Person items: grantor hash → name."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}
        self.names = dict(names or {})

    def add(self, grant: Grant) -> None:
        with self._lock:
            if grant.authorization_id in self._grants:
                raise GrantExists(grant.authorization_id)
            self._grants[grant.authorization_id] = grant

    def get(self, authorization_id: str) -> Grant | None:
        return self._grants.get(authorization_id)

    def given_by(self, grantor_hash: str) -> list[Grant]:
        return self._sorted(g for g in self._grants.values() if g.grantor_hash == grantor_hash)

    def held_by(self, phone: str) -> list[Grant]:
        return self._sorted(g for g in self._grants.values() if g.grantee_phone == phone and g.active)

    def revoke(self, authorization_id: str, grantor_hash: str, at: str) -> Grant | None:
        with self._lock:
            grant = self._grants.get(authorization_id)
            if grant is None or grant.grantor_hash != grantor_hash:
                return None
            revoked = grant.model_copy(update={"status": REVOKED, "revoked_at": at})
            self._grants[authorization_id] = revoked
            return revoked

    def grantor_names(self, grantor_hashes: set[str]) -> dict[str, str]:
        return {h: self.names[h] for h in grantor_hashes if self.names.get(h)}

    @staticmethod
    def _sorted(grants) -> list[Grant]:
        return sorted(grants, key=lambda g: g.authorization_id)  # the index's sort key: AUTHZ#{id}
