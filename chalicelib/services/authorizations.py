"""Authorisations (亲友代办): the insured person lets the account that logs in with a given phone view their policies
and/or handle their claims. Granted by a person (their ID hash), held by a phone; revocation takes effect at once
because `access.granted_scopes` reads only active grants.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.domain.errors import Conflict, NotFound, RuleViolation
from chalicelib.domain.identity import parse_phone
from chalicelib.domain.masking import mask_name, mask_phone
from chalicelib.services.family import require_identity

SCOPES = ("view", "claims")


@dataclass(frozen=True)
class Authorization:
    authorization_id: str
    direction: str  # granted (by me) | received (by my phone)
    scopes: list[str]
    status: str  # active | revoked
    created_at: str
    revoked_at: str | None = None
    grantee_phone_masked: str | None = None  # on grants I gave
    grantor_name_masked: str | None = None  # on grants I hold


def grant(table: Table, account: dict[str, Any], grantee_phone_raw: str, scopes: list[str],
          now: datetime) -> Authorization:
    """POST /v1/authorizations by the insured person (the caller's bound identity)."""
    grantor_hash = require_identity(account)
    phone = parse_phone(grantee_phone_raw, field="grantee_phone")
    if phone == account.get("phone"):
        raise RuleViolation("AUTHORIZATION_SELF", field="grantee_phone")
    # One live grant per grantee keeps revocation unambiguous; a race of two identical grants is harmless
    # (scopes are a union) and the later revocation of either is honoured.
    if any(item["grantee_phone"] == phone for item in _given(table, grantor_hash) if item["status"] == "active"):
        raise Conflict("AUTHORIZATION_EXISTS", field="grantee_phone")
    authorization_id = "A" + uuid.uuid4().hex[:20].upper()
    item = {**keys.authorization(authorization_id), **keys.gsi_person(grantor_hash, f"AUTHZ#{authorization_id}"),
            **keys.gsi_grantee(phone, f"AUTHZ#{authorization_id}"),
            "authorization_id": authorization_id, "grantor_hash": grantor_hash,
            "grantor_account_id": account["account_id"], "grantee_phone": phone,
            "scopes": [s for s in SCOPES if s in scopes], "status": "active", "created_at": iso(now)}
    table.put(item, condition="attribute_not_exists(PK)")
    return _granted_view(item)


def list_for(table: Table, account: dict[str, Any]) -> list[Authorization]:
    """GET /v1/authorizations: grants my person gave (active and revoked) and active grants my phone holds."""
    out: list[Authorization] = []
    if account.get("person_hash"):
        out += [_granted_view(item) for item in _given(table, account["person_hash"])]
    if account.get("phone"):
        held = [item for item in _held(table, account["phone"]) if item["status"] == "active"
                and item["grantor_hash"] != account.get("person_hash")]
        names = _person_names(table, {item["grantor_hash"] for item in held})
        out += [Authorization(authorization_id=item["authorization_id"], direction="received",
                              scopes=item["scopes"], status=item["status"], created_at=item["created_at"],
                              grantor_name_masked=mask_name(names.get(item["grantor_hash"], "")))
                for item in held]
    return sorted(out, key=lambda a: a.created_at, reverse=True)


def revoke(table: Table, account: dict[str, Any], authorization_id: str, now: datetime) -> Authorization:
    """DELETE /v1/authorizations/{id} by the grantor. Revoking twice answers the revoked grant again."""
    item = table.get(keys.authorization(authorization_id))
    if item is None or not account.get("person_hash") or item["grantor_hash"] != account["person_hash"]:
        raise NotFound("AUTHORIZATION_NOT_FOUND", authorization_id=authorization_id)
    if item["status"] == "revoked":
        return _granted_view(item)
    gsi_pk, gsi_sk = schema.GSIS[schema.GSI_BY_GRANTEE]
    try:
        updated = table.update(keys.authorization(authorization_id),
                               f"SET #status = :revoked, revoked_at = :at REMOVE {gsi_pk}, {gsi_sk}",
                               condition="grantor_hash = :me", names={"#status": "status"},
                               values={":revoked": "revoked", ":at": iso(now), ":me": account["person_hash"]})
    except ConditionFailed:
        raise NotFound("AUTHORIZATION_NOT_FOUND", authorization_id=authorization_id) from None
    return _granted_view(updated)


# ---- helpers ---------------------------------------------------------------------------------------------------
def _given(table: Table, grantor_hash: str) -> list[dict[str, Any]]:
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
    k = keys.gsi_person(grantor_hash, "AUTHZ#")
    return list(table.query_all(pk_name, k[pk_name], index=schema.GSI_BY_PERSON, sk_name=sk_name,
                                sk_prefix=k[sk_name]))


def _held(table: Table, phone: str) -> list[dict[str, Any]]:
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
    k = keys.gsi_grantee(phone, "AUTHZ#")
    return list(table.query_all(pk_name, k[pk_name], index=schema.GSI_BY_GRANTEE, sk_name=sk_name,
                                sk_prefix=k[sk_name]))


def _person_names(table: Table, hashes: set[str]) -> dict[str, str]:
    if not hashes:
        return {}
    return {p["id_hash"]: p["name"] for p in table.batch_get([keys.person(h) for h in sorted(hashes)])
            if p.get("id_hash") and p.get("name")}


def _granted_view(item: dict[str, Any]) -> Authorization:
    return Authorization(authorization_id=item["authorization_id"], direction="granted", scopes=item["scopes"],
                         status=item["status"], created_at=item["created_at"], revoked_at=item.get("revoked_at"),
                         grantee_phone_masked=mask_phone(item["grantee_phone"]))
