"""Who may see or act on what (PIPL minimum necessary; BOLA).

- The insured person (the account bound to their ID) — everything about their policies and claims.
- The payer — sees the policies they paid for (and may cancel/renew them); claims only with authorisation.
- An account holding the insured's active authorisation (by the phone it logs in with) — `view` and/or `claims`.
Anything else is answered 404, so a stranger cannot even learn that an object exists.
"""
from __future__ import annotations

from typing import Any, Literal

from chalicelib.adapters import keys
from chalicelib.adapters.repositories.grants import DynamoGrantRepository, GrantRepository
from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.domain.grant import scopes_by_grantor

Scope = Literal["view", "claims", "payer"]


def account_of(table, principal) -> dict[str, Any]:
    account = table.get(keys.account(principal.account_id))
    if account is None:
        raise Unauthorized("TOKEN_INVALID")
    return account


def granted_scopes(grants: GrantRepository, account: dict[str, Any], grantor_hash: str) -> set[str]:
    """Scopes an account holds from the person `grantor_hash` through active authorisations."""
    phone = account.get("phone")
    if not phone:
        return set()
    return scopes_by_grantor(grants.held_by(phone)).get(grantor_hash, set())


def roles_on_policy(table, account: dict[str, Any], policy: dict[str, Any]) -> set[str]:
    """The caller's relations to a policy: insured, payer, view, claims."""
    roles: set[str] = set()
    if account.get("person_hash") and account["person_hash"] == policy["insured_hash"]:
        roles |= {"insured", "view", "claims", "payer_or_insured"}
    if policy.get("payer_account_id") == account["account_id"]:
        roles |= {"payer", "view", "payer_or_insured"}
    granted = (granted_scopes(DynamoGrantRepository(table), account, policy["insured_hash"])
               if "insured" not in roles else set())
    if "claims" in granted:
        granted.add("view")  # handling claims needs the policy's figures
    if granted:
        granted.add("authorized")  # the insured let this account see their policy, claim figures included
    return roles | granted


def load_policy(table, principal, policy_id: str, need: str = "view") -> tuple[dict[str, Any], set[str]]:
    """The policy if the caller has `need` (view | claims | payer_or_insured), else 404."""
    policy = table.get(keys.policy(policy_id))
    if policy is None:
        raise NotFound("POLICY_NOT_FOUND")
    if principal is not None and principal.is_staff:
        return policy, {"staff", "view"}
    account = account_of(table, principal)
    roles = roles_on_policy(table, account, policy)
    if need not in roles:
        raise NotFound("POLICY_NOT_FOUND")
    return policy, roles
