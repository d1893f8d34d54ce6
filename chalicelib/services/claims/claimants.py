"""Who may act on whose claims (`Claimants`, adapters/repositories/claimants.py) by the access rules of
`services.access`: the insured, or an account holding the insured's `claims` authorisation — over the accounts,
authorisations and the claims repository's view of a policy."""
from __future__ import annotations

from chalicelib.adapters.repositories.claims import ClaimRepository
from chalicelib.domain.claim_models import ClaimPolicy
from chalicelib.domain.errors import NotFound
from chalicelib.services import access


class TableClaimants:
    """Claimants through the access rules (built by `deps.claim_ports` from `deps.access_ports`); the twin is
    `InMemoryClaimants`."""

    def __init__(self, access_ports: access.AccessPorts, claims: ClaimRepository) -> None:
        self.access = access_ports
        self.claims = claims

    def policy_for_claimant(self, principal, policy_id: str) -> tuple[ClaimPolicy, set[str]]:
        policy = self.claims.policy_for_claim(policy_id)
        if policy is None:
            raise NotFound("POLICY_NOT_FOUND")
        return policy, access.allowed_roles(self.access, principal, policy.insured_hash, policy.payer_account_id,
                                            need="claims")

    def persons_handled(self, principal) -> set[str]:
        account = access.account_of(self.access.accounts, principal)
        persons = {account.person_hash} if account.person_hash else set()
        if account.phone:
            persons |= {g.grantor_hash for g in self.access.grants.held_by(account.phone) if "claims" in g.scopes}
        return persons

    def account_of_insured(self, insured_hash: str) -> str | None:
        return self.access.accounts.bound_account(insured_hash)

    def person_of_account(self, account_id: str) -> str | None:
        account = self.access.accounts.get(account_id)
        return account.person_hash if account else None
