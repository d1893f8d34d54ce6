"""Who may act on whose claims: the insured, or an account holding the insured's `claims` authorisation. The port
(`Claimants`) and its in-memory twin; the real one applies the access rules of `services.access` over the
repositories, so it is a service (`services/claims/claimants.py` `TableClaimants`; tests/contract/
test_claim_repository.py runs both)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.domain.claim_models import ClaimPolicy
from chalicelib.domain.errors import NotFound


class Claimants(Protocol):
    """Who may act on whose claims (the insured; an account holding the insured's `claims` authorisation)."""

    def policy_for_claimant(self, principal, policy_id: str) -> tuple[ClaimPolicy, set[str]]:
        """The policy and the caller's roles on it when they may claim on it; 404 POLICY_NOT_FOUND otherwise."""
        ...

    def persons_handled(self, principal) -> set[str]:
        """The insured persons (ID hashes) whose claims the caller may see: themselves and `claims` grantors."""
        ...

    def account_of_insured(self, insured_hash: str) -> str | None:
        """The account the insured person is bound to (to notify them), if any."""
        ...

    def person_of_account(self, account_id: str) -> str | None:
        """The person (ID hash) an account is bound to by real-name verification, if any."""
        ...


@dataclass
class InMemoryClaimants:
    """Twin of TableClaimants: `roles[(account_id, policy_id)]` are the caller's roles on a policy (insured, proxy
    via a `claims` grant); `persons[account_id]` whom they handle; `bindings[insured_hash]` the insured's account."""

    policies: dict[str, ClaimPolicy] = field(default_factory=dict)
    roles: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    persons: dict[str, set[str]] = field(default_factory=dict)
    bindings: dict[str, str] = field(default_factory=dict)

    def insured(self, account_id: str, policy: ClaimPolicy) -> None:
        self.policies[policy.policy_id] = policy
        self.roles[(account_id, policy.policy_id)] = {"insured", "view", "claims"}
        self.persons.setdefault(account_id, set()).add(policy.insured_hash)
        self.bindings[policy.insured_hash] = account_id

    def proxy(self, account_id: str, policy: ClaimPolicy) -> None:
        self.roles[(account_id, policy.policy_id)] = {"view", "claims", "authorized"}
        self.persons.setdefault(account_id, set()).add(policy.insured_hash)

    def policy_for_claimant(self, principal, policy_id: str) -> tuple[ClaimPolicy, set[str]]:
        policy = self.policies.get(policy_id)
        roles = self.roles.get((principal.account_id, policy_id), set())
        if policy is None or "claims" not in roles:
            raise NotFound("POLICY_NOT_FOUND")
        return policy, roles

    def persons_handled(self, principal) -> set[str]:
        return set(self.persons.get(principal.account_id, set()))

    def account_of_insured(self, insured_hash: str) -> str | None:
        return self.bindings.get(insured_hash)

    def person_of_account(self, account_id: str) -> str | None:
        return next((h for h, a in self.bindings.items() if a == account_id), None)
