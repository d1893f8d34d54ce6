"""An authorisation (亲友代办授权): the insured person (their ID hash) lets the account that logs in with a phone view
their policies and/or handle their claims. Fields are named once, here; keys and indexes are the repository's
(adapters/repositories/grants.py). Pure."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

GRANT_SCOPES = ("view", "claims")
ACTIVE = "active"
REVOKED = "revoked"


class Grant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # attributes another version wrote are kept

    authorization_id: str
    grantor_hash: str  # the insured person who granted
    grantor_account_id: str | None = None  # the account they were logged in with
    grantee_phone: str  # whoever logs in with this phone holds the grant
    scopes: list[str]
    status: Literal["active", "revoked"] = ACTIVE
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def scopes_by_grantor(grants: Iterable[Grant]) -> dict[str, set[str]]:
    """grantor hash → the scopes of the active grants among `grants` (two grants from one person are a union)."""
    held: dict[str, set[str]] = {}
    for grant in grants:
        if grant.active:
            held.setdefault(grant.grantor_hash, set()).update(grant.scopes)
    return held
