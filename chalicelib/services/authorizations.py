"""Authorisations (亲友代办): the insured person lets the account that logs in with a given phone view their policies
and/or handle their claims. Granted by a person (their ID hash), held by a phone; revocation takes effect at once
because `access.granted_scopes` reads only active grants.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters.clock import iso
from chalicelib.adapters.repositories.grants import GrantRepository
from chalicelib.domain.account import Account
from chalicelib.domain.errors import Conflict, NotFound, RuleViolation
from chalicelib.domain.grant import GRANT_SCOPES, Grant
from chalicelib.domain.identity import parse_phone
from chalicelib.domain.masking import mask_name, mask_phone

SCOPES = GRANT_SCOPES


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


def grant(grants: GrantRepository, account: Account, grantee_phone_raw: str, scopes: list[str],
          now: datetime) -> Authorization:
    """POST /v1/authorizations by the insured person (the caller's bound identity)."""
    grantor_hash = account.bound_person()
    phone = parse_phone(grantee_phone_raw, field="grantee_phone")
    if phone == account.phone:
        raise RuleViolation("AUTHORIZATION_SELF", field="grantee_phone")
    # One live grant per grantee keeps revocation unambiguous; a race of two identical grants is harmless
    # (scopes are a union) and the later revocation of either is honoured.
    if any(g.grantee_phone == phone and g.active for g in grants.given_by(grantor_hash)):
        raise Conflict("AUTHORIZATION_EXISTS", field="grantee_phone")
    new = Grant(authorization_id="A" + uuid.uuid4().hex[:20].upper(), grantor_hash=grantor_hash,
                grantor_account_id=account.account_id, grantee_phone=phone,
                scopes=[s for s in SCOPES if s in scopes], created_at=iso(now))
    grants.add(new)  # 80 random bits: a collision (GrantExists) is an error, never an overwrite
    return _granted_view(new)


def list_for(grants: GrantRepository, account: Account) -> list[Authorization]:
    """GET /v1/authorizations: grants my person gave (active and revoked) and active grants my phone holds."""
    out: list[Authorization] = []
    if account.person_hash:
        out += [_granted_view(g) for g in grants.given_by(account.person_hash)]
    if account.phone:
        held = [g for g in grants.held_by(account.phone) if g.grantor_hash != account.person_hash]
        names = grants.grantor_names({g.grantor_hash for g in held})
        out += [Authorization(authorization_id=g.authorization_id, direction="received", scopes=g.scopes,
                              status=g.status, created_at=g.created_at,
                              grantor_name_masked=mask_name(names.get(g.grantor_hash, "")))
                for g in held]
    return sorted(out, key=lambda a: a.created_at, reverse=True)


def revoke(grants: GrantRepository, account: Account, authorization_id: str, now: datetime) -> Authorization:
    """DELETE /v1/authorizations/{id} by the grantor. Revoking twice answers the revoked grant again."""
    found = grants.get(authorization_id)
    if found is None or not account.person_hash or found.grantor_hash != account.person_hash:
        raise NotFound("AUTHORIZATION_NOT_FOUND", authorization_id=authorization_id)
    if not found.active:
        return _granted_view(found)
    revoked = grants.revoke(authorization_id, account.person_hash, iso(now))
    if revoked is None:
        raise NotFound("AUTHORIZATION_NOT_FOUND", authorization_id=authorization_id)
    return _granted_view(revoked)


def _granted_view(g: Grant) -> Authorization:
    return Authorization(authorization_id=g.authorization_id, direction="granted", scopes=g.scopes,
                         status=g.status, created_at=g.created_at, revoked_at=g.revoked_at,
                         grantee_phone_masked=mask_phone(g.grantee_phone))
