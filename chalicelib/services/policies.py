"""Reading policies and recording auto-renewal consent (自动续保授权).

Who sees what is decided by `services/access.py`; this module presents a policy to a caller: the insured sees their
own name, anyone else (payer, authorised relative) sees names masked; ID numbers are always masked.
Policy items are written by the orders service (docs/access-patterns.md, Policy).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.repositories.accounts import AccountStore
from chalicelib.adapters.repositories.family import FamilyStore
from chalicelib.adapters.repositories.grants import GrantRepository
from chalicelib.domain.account import Account
from chalicelib.domain.enrolment_rules import check_personal_account_allowed
from chalicelib.domain.errors import Conflict, RuleViolation
from chalicelib.domain.grant import scopes_by_grantor
from chalicelib.domain.masking import mask_name
from chalicelib.domain.messages import term
from chalicelib.domain.policy import Policy
from chalicelib.domain.resident_id import mask
from chalicelib.services import access, renewals
from chalicelib.services.family import ID_NUMBER_CONTEXT, find_platform_person
from chalicelib.services.renewal_consent import consent_channel, consent_record

VISIBLE_ROLES = ("insured", "payer", "view", "claims")
STATUS_TERMS = {"cancelled": "POLICY_STATUS_CANCELLED", "expired": "POLICY_STATUS_EXPIRED"}
_UPDATE_ATTEMPTS = 3  # a policy's version also moves when a claim is paid; re-read and re-check, then give up


@dataclass(frozen=True)
class PolicyPorts:
    """What reading policies and switching their auto-renewal need (chalicelib/deps.py policy_ports builds it)."""

    policies: Any  # adapters.repositories.policies.PolicyRepository or its twin
    accounts: AccountStore
    family: FamilyStore
    grants: GrantRepository
    cipher: Any  # adapters.crypto.FieldCipher
    platform: Any  # the 医保 platform port


@dataclass(frozen=True)
class PolicyView:
    policy_id: str
    plan_id: str
    plan_name: str
    order_id: str
    insured: dict[str, str]  # name (masked unless the caller is the insured), id_number_masked
    payer: dict[str, Any]  # relationship (self | spouse | … | None when unknown), name_masked, is_me
    status: str
    paid_at: str | None
    benefit_start: str
    coverage_end: str
    waiting_rule: str
    auto_renew: bool
    auto_renew_consent: dict[str, Any] | None
    year_to_date: dict[str, int] | None
    premium_fen: int
    payment_method: str
    roles: list[str]
    renewal: dict[str, Any] | None = None  # API.md v1.1 (services/renewals.renewal_view)


# ---- reading ---------------------------------------------------------------------------------------------------
def list_policies(ports: PolicyPorts, principal) -> list[PolicyView]:
    """GET /v1/policies: as insured, as payer, or through an active view/claims authorisation; each once."""
    account = access.account_of(ports.accounts, principal)
    policies, grants = ports.policies, ports.grants
    found: dict[str, Policy] = {}
    people = set()
    if account.person_hash:
        people.add(account.person_hash)
    if account.phone:
        held = scopes_by_grantor(grants.held_by(account.phone))
        people |= {grantor for grantor, scopes in held.items() if scopes & {"view", "claims"}}
    for person_hash in sorted(people):
        found |= {p.policy_id: p for p in policies.for_insured(person_hash)}
    found |= {p.policy_id: p for p in policies.for_payer(account.account_id)}
    visible = []
    for policy in found.values():
        # the same rule as the detail route
        roles = access.roles_on_policy(grants, account, policy.insured_hash, policy.payer_account_id)
        if "view" in roles:
            visible.append((policy, roles))
    views = _present(ports, account, visible)
    return sorted(views, key=lambda v: (v.paid_at or "", v.policy_id), reverse=True)


def policy_detail(ports: PolicyPorts, principal, policy_id: str) -> PolicyView:
    """GET /v1/policies/{id}: 404 unless the caller may view it."""
    policy, roles = access.policy_for(ports, principal, policy_id, need="view")
    return _present(ports, access.account_of(ports.accounts, principal), [(policy, roles)])[0]


# ---- auto-renewal consent ----------------------------------------------------------------------------------------
def set_auto_renewal(ports: PolicyPorts, principal, policy_id: str, enabled: bool, now: datetime) -> PolicyView:
    """PUT /v1/policies/{id}/auto-renewal by the payer or the insured.

    Consent names the account that will pay next year (the caller), the channel it was given on and the personal
    account part to deduct; the policy joins the plan's renewal index so the renewal run can page through a plan's
    consenting policies. Withdrawing removes it from that index at once.
    """
    account = access.account_of(ports.accounts, principal)
    for _ in range(_UPDATE_ATTEMPTS):
        policy, roles = access.policy_for(ports, principal, policy_id, need="payer_or_insured")
        renewals.check_switch(policy, enabled)
        consent = _consent(ports, account, policy, now) if enabled else None
        channel = consent_channel(account.login_channel)
        withdrawal = None if enabled else {"at": iso(now), "channel": channel, "account_id": account.account_id}
        entries = renewals.history_added(policy, "consent" if enabled else "stop", channel, account.account_id, now)
        updated = ports.policies.switch_auto_renew(policy, consent=consent, withdrawal=withdrawal,
                                                            entries=entries)
        if updated is None:
            continue  # changed meanwhile (a claim paid): re-read and re-check
        return _present(ports, account, [(updated, roles)])[0]
    raise Conflict("POLICY_CHANGED_RETRY", policy_id=policy_id)


def _consent(ports: PolicyPorts, account: Account, policy: Policy, now: datetime) -> dict[str, Any]:
    """The consent record, once the payer may pay the policy's renewal from their personal account."""
    from chalicelib.plans import get_plan

    if policy.status != "active":
        raise RuleViolation("POLICY_NOT_ACTIVE", status_zh=term(STATUS_TERMS[policy.status]) if policy.status in STATUS_TERMS else policy.status)
    if not account.id_enc:  # no bound identity, so no personal account the platform could deduct from
        raise RuleViolation("NO_PERSONAL_ACCOUNT")
    cipher, platform = ports.cipher, ports.platform
    plan = get_plan(policy.plan_id)
    payer = find_platform_person(platform, cipher.decrypt(account.id_enc, ID_NUMBER_CONTEXT))
    is_insured = account.person_hash == policy.insured_hash
    insured = payer if is_insured else find_platform_person(
        platform, cipher.decrypt(policy.insured_id_enc, ID_NUMBER_CONTEXT))
    if insured is None:
        raise RuleViolation("PERSON_NOT_FOUND_IN_PLATFORM")
    relationship = None if is_insured else (_relationship(ports.family, account.account_id, policy) or "other")
    who = policy.insured_name if is_insured else mask_name(policy.insured_name)
    source = check_personal_account_allowed(plan, payer, insured, relationship, who=who)
    renewals.check_paid_from_personal_account(policy)
    return consent_record(account.account_id, account.login_channel, source, now)


# ---- presenting ----------------------------------------------------------------------------------------------------
def _present(ports: PolicyPorts, account: Account, policies: list[tuple[Policy, set[str]]]) -> list[PolicyView]:
    from chalicelib.plans import all_plans

    cipher = ports.cipher
    payers = ports.accounts.many({p.payer_account_id for p, _ in policies if p.payer_account_id})
    plans = all_plans()
    out = []
    for policy, roles in policies:
        is_insured = "insured" in roles
        payer_account = payers.get(policy.payer_account_id)
        payer_is_me = policy.payer_account_id == account.account_id
        if policy.payer_hash and policy.payer_hash == policy.insured_hash:
            relationship = "self"
        else:
            relationship = _relationship(ports.family, policy.payer_account_id, policy)
        payer_name = payer_account.person_name if payer_account else None
        plan = plans.get(policy.plan_id)
        out.append(PolicyView(
            policy_id=policy.policy_id, plan_id=policy.plan_id, plan_name=plan.name if plan else "",
            order_id=policy.order_id,
            insured={"name": policy.insured_name if is_insured else mask_name(policy.insured_name),
                     "id_number_masked": mask(cipher.decrypt(policy.insured_id_enc, ID_NUMBER_CONTEXT))},
            payer={"relationship": relationship, "is_me": payer_is_me,
                   "name_masked": mask_name(payer_name) if payer_name else None},
            status=policy.status, paid_at=policy.paid_at, benefit_start=policy.benefit_start,
            coverage_end=policy.coverage_end, waiting_rule=policy.waiting_rule, auto_renew=policy.auto_renew,
            auto_renew_consent=_consent_for(policy.auto_renew_consent, account),
            year_to_date=_year_to_date_for(policy, roles),
            premium_fen=policy.premium_fen, payment_method=policy.payment_method,
            roles=[r for r in VISIBLE_ROLES if r in roles],
            renewal=renewals.renewal_view(policy, account.account_id)))
    return out


def _year_to_date_for(policy: Policy, roles: set[str]) -> dict[str, int] | None:
    """Year-to-date figures are claim data (health information): the insured and whoever they authorised see them;
    a relative who only paid does not (DOMAIN §8: claims only with the insured's authorisation)."""
    if not roles & {"insured", "authorized"}:
        return None
    return {"deductible_used_fen": policy.ytd_deductible_used_fen, "eligible_fen": policy.ytd_eligible_fen,
            "paid_fen": policy.ytd_paid_fen}


def _consent_for(consent: dict[str, Any] | None, account: Account) -> dict[str, Any] | None:
    """What the caller may know about the consent: not another account's id."""
    if not consent:
        return None
    return {"at": consent["at"], "channel": consent["channel"], "payment_method": consent["payment_method"],
            "payer_is_me": consent["payer_account_id"] == account.account_id}


def _relationship(family: FamilyStore, payer_account_id: str, policy: Policy) -> str | None:
    """How the insured is related to the paying account, from the payer's family-member record (None if gone)."""
    if not payer_account_id:
        return None
    member = family.member_for(payer_account_id, policy.insured_hash)
    return member.relationship if member else None
