"""Who may see or act on what (PIPL minimum necessary; BOLA).

- The insured person (the account bound to their ID) — everything about their policies and claims.
- The payer — sees the policies they paid for (and may cancel/renew them); claims only with authorisation.
- An account holding the insured's active authorisation (by the phone it logs in with) — `view` and/or `claims`.
Anything else is answered 404, so a stranger cannot even learn that an object exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from chalicelib.adapters.repositories.accounts import AccountStore
from chalicelib.adapters.repositories.grants import GrantRepository
from chalicelib.domain.account import Account
from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.domain.grant import scopes_by_grantor
from chalicelib.domain.policy import Policy

Scope = Literal["view", "claims", "payer"]


def account_of(accounts: AccountStore, principal) -> Account:
    """The caller's account, or 401 (a validly signed token for an account that no longer exists)."""
    account = accounts.get(principal.account_id)
    if account is None:
        raise Unauthorized("TOKEN_INVALID")
    return account


def granted_scopes(grants: GrantRepository, account: Account, grantor_hash: str) -> set[str]:
    """Scopes an account holds from the person `grantor_hash` through active authorisations."""
    if not account.phone:
        return set()
    return scopes_by_grantor(grants.held_by(account.phone)).get(grantor_hash, set())


def roles_on_policy(grants: GrantRepository, account: Account, insured_hash: str,
                    payer_account_id: str | None) -> set[str]:
    """The caller's relations to a policy (of the insured `insured_hash`, paid by `payer_account_id`): insured,
    payer, view, claims."""
    roles: set[str] = set()
    if account.person_hash and account.person_hash == insured_hash:
        roles |= {"insured", "view", "claims", "payer_or_insured"}
    if payer_account_id == account.account_id:
        roles |= {"payer", "view", "payer_or_insured"}
    granted = granted_scopes(grants, account, insured_hash) if "insured" not in roles else set()
    if "claims" in granted:
        granted.add("view")  # handling claims needs the policy's figures
    if granted:
        granted.add("authorized")  # the insured let this account see their policy, claim figures included
    return roles | granted


class AccessPorts(Protocol):
    """What the access rule reads (PolicyPorts, OrderPorts, EstimatePorts and `AccessRepositories` carry these)."""

    accounts: AccountStore
    policies: Any  # the policy repository (get)
    grants: GrantRepository


@dataclass(frozen=True)
class AccessRepositories:
    """Just the access rule's repositories, for a use case that needs nothing else of them (the claimants of
    services/claims). Built by the composition root (`deps.access_ports`)."""

    accounts: AccountStore
    policies: Any
    grants: GrantRepository


def allowed_roles(ports: AccessPorts, principal, insured_hash: str, payer_account_id: str | None,
                  need: str) -> set[str]:
    """The caller's roles on a policy of the insured `insured_hash` (paid by `payer_account_id`) if they include
    `need`, else 404 POLICY_NOT_FOUND. Staff see every policy."""
    if principal is not None and principal.is_staff:
        return {"staff", "view"}
    roles = roles_on_policy(ports.grants, account_of(ports.accounts, principal), insured_hash, payer_account_id)
    if need not in roles:
        raise NotFound("POLICY_NOT_FOUND")
    return roles


def policy_for(ports: AccessPorts, principal, policy_id: str, need: str = "view") -> tuple[Policy, set[str]]:
    """The policy if the caller has `need` (view | claims | payer_or_insured), else 404."""
    policy = ports.policies.get(policy_id)
    if policy is None:
        raise NotFound("POLICY_NOT_FOUND")
    return policy, allowed_roles(ports, principal, policy.insured_hash, policy.payer_account_id, need)
