"""Reading policies and recording auto-renewal consent (自动续保授权).

Who sees what is decided by `services/access.py`; this module presents a policy to a caller: the insured sees their
own name, anyone else (payer, authorised relative) sees names masked; ID numbers are always masked.
Policy items are written by the orders service (docs/access-patterns.md, Policy).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.adapters.repositories.grants import DynamoGrantRepository
from chalicelib.domain.enrolment_rules import check_personal_account_allowed
from chalicelib.domain.errors import Conflict, RuleViolation
from chalicelib.domain.grant import scopes_by_grantor
from chalicelib.domain.masking import mask_name
from chalicelib.domain.resident_id import mask
from chalicelib.services import access, renewals
from chalicelib.services.family import ID_NUMBER_CONTEXT, find_platform_person
from chalicelib.services.renewal_consent import (  # noqa: F401 (RENEWAL_PAYMENT_METHOD, consent_channel re-exported)
    RENEWAL_PAYMENT_METHOD,
    consent_channel,
    consent_record,
)

VISIBLE_ROLES = ("insured", "payer", "view", "claims")
STATUS_ZH = {"cancelled": "退保", "expired": "到期"}
_UPDATE_ATTEMPTS = 3  # a policy's version also moves when a claim is paid; re-read and re-check, then give up


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
def list_policies(table: Table, cipher, principal) -> list[PolicyView]:
    """GET /v1/policies: as insured, as payer, or through an active view/claims authorisation; each once."""
    account = access.account_of(table, principal)
    found: dict[str, dict[str, Any]] = {}
    people = set()
    if account.get("person_hash"):
        people.add(account["person_hash"])
    if account.get("phone"):
        held = scopes_by_grantor(DynamoGrantRepository(table).held_by(account["phone"]))
        people |= {grantor for grantor, scopes in held.items() if scopes & {"view", "claims"}}
    for person_hash in sorted(people):
        for item in _gsi_policies(table, schema.GSI_BY_PERSON, keys.gsi_person(person_hash, "POLICY#")):
            found[item["policy_id"]] = item
    for item in _gsi_policies(table, schema.GSI_BY_ACCOUNT, keys.gsi_account(account["account_id"], "POLICY#")):
        found[item["policy_id"]] = item
    visible = []
    for policy in found.values():
        roles = access.roles_on_policy(table, account, policy)  # the same rule as the detail route
        if "view" in roles:
            visible.append((policy, roles))
    views = _present(table, cipher, account, visible)
    return sorted(views, key=lambda v: (v.paid_at or "", v.policy_id), reverse=True)


def policy_detail(table: Table, cipher, principal, policy_id: str) -> PolicyView:
    """GET /v1/policies/{id}: 404 unless the caller may view it."""
    policy, roles = access.load_policy(table, principal, policy_id, need="view")
    return _present(table, cipher, access.account_of(table, principal), [(policy, roles)])[0]


# ---- auto-renewal consent ----------------------------------------------------------------------------------------
def set_auto_renewal(table: Table, cipher, platform, principal, policy_id: str, enabled: bool,
                     now: datetime) -> PolicyView:
    """PUT /v1/policies/{id}/auto-renewal by the payer or the insured.

    Consent names the account that will pay next year (the caller), the channel it was given on and the personal
    account part to deduct; the policy joins GSI4 RENEWAL#{plan_id} so the renewal run can page through a plan's
    consenting policies. Withdrawing removes it from that index at once.
    """
    account = access.account_of(table, principal)
    for _ in range(_UPDATE_ATTEMPTS):
        policy, roles = access.load_policy(table, principal, policy_id, need="payer_or_insured")
        renewals.check_switch(policy, enabled)
        change = (_consent(table, cipher, platform, account, policy, now) if enabled
                  else _withdrawal(account, now))
        change = _with_history(change, renewals.history_added(policy, "consent" if enabled else "stop",
                                                              consent_channel(account), account["account_id"], now))
        version = policy.get("version", 0)
        try:
            updated = table.update(keys.policy(policy_id), change.expression(),
                                   condition=f"(attribute_not_exists(version) OR version = :v){change.condition}",
                                   names={"#status": "status"} if "#status" in change.condition else None,
                                   values={**change.values, ":v": version, ":next": version + 1})
        except ConditionFailed:
            continue
        return _present(table, cipher, account, [(updated, roles)])[0]
    raise Conflict("POLICY_CHANGED_RETRY", policy_id=policy_id)


def renewal_index_keys(plan_id: str, payer_account_id: str, policy_id: str) -> dict[str, str]:
    """GSI4 keys a policy carries while auto-renewal is on (the orders service uses them when a buyer consents
    at purchase)."""
    return keys.gsi_renewal(plan_id, f"{payer_account_id}#{policy_id}")


@dataclass(frozen=True)
class _Change:
    """One conditional update of a policy; the version bump is added by the caller."""

    sets: list[str]
    removes: list[str]
    values: dict[str, Any]
    condition: str = ""

    def expression(self) -> str:
        expr = "SET " + ", ".join([*self.sets, "version = :next"])
        return expr + (" REMOVE " + ", ".join(self.removes) if self.removes else "")


def _consent(table: Table, cipher, platform, account: dict[str, Any], policy: dict[str, Any],
             now: datetime) -> _Change:
    from chalicelib.plans import get_plan

    if policy["status"] != "active":
        raise RuleViolation("POLICY_NOT_ACTIVE", status_zh=STATUS_ZH.get(policy["status"], policy["status"]))
    if not account.get("id_enc"):  # no bound identity, so no personal account the platform could deduct from
        raise RuleViolation("NO_PERSONAL_ACCOUNT")
    plan = get_plan(policy["plan_id"])
    payer = find_platform_person(platform, cipher.decrypt(account["id_enc"], ID_NUMBER_CONTEXT))
    is_insured = account.get("person_hash") == policy["insured_hash"]
    insured = payer if is_insured else find_platform_person(
        platform, cipher.decrypt(policy["insured_id_enc"], ID_NUMBER_CONTEXT))
    if insured is None:
        raise RuleViolation("PERSON_NOT_FOUND_IN_PLATFORM")
    relationship = None if is_insured else (_relationship(table, account["account_id"], policy) or "other")
    who = policy["insured_name"] if is_insured else mask_name(policy["insured_name"])
    source = check_personal_account_allowed(plan, payer, insured, relationship, who=who)
    renewals.check_paid_from_personal_account(policy)
    index = renewal_index_keys(policy["plan_id"], account["account_id"], policy["policy_id"])
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
    return _Change(sets=["auto_renew = :on", "auto_renew_consent = :consent", f"{pk_name} = :rpk",
                         f"{sk_name} = :rsk"],
                   removes=["auto_renew_withdrawal"],
                   values={":on": True, ":consent": consent_record(account, source, now), ":rpk": index[pk_name],
                           ":rsk": index[sk_name], ":active": "active"},
                   condition=" AND #status = :active")


def _with_history(change: _Change, entries: list[dict[str, Any]]) -> _Change:
    """The consent or stop, appended to the policy's renewal history (DOMAIN §9.8) in the same update."""
    return _Change(sets=[*change.sets, "renewal_history = list_append(if_not_exists(renewal_history, :empty), :h)"],
                   removes=change.removes, values={**change.values, ":h": entries, ":empty": []},
                   condition=change.condition)


def _withdrawal(account: dict[str, Any], now: datetime) -> _Change:
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
    withdrawal = {"at": iso(now), "channel": consent_channel(account), "account_id": account["account_id"]}
    return _Change(sets=["auto_renew = :off", "auto_renew_withdrawal = :w"],
                   removes=["auto_renew_consent", pk_name, sk_name], values={":off": False, ":w": withdrawal})


# ---- presenting ----------------------------------------------------------------------------------------------------
def _present(table: Table, cipher, account: dict[str, Any],
             policies: list[tuple[dict[str, Any], set[str]]]) -> list[PolicyView]:
    from chalicelib.plans import all_plans

    payer_ids = {p["payer_account_id"] for p, _ in policies if p.get("payer_account_id")}
    payers = {a["account_id"]: a for a in table.batch_get([keys.account(i) for i in sorted(payer_ids)])}
    plans = all_plans()
    out = []
    for policy, roles in policies:
        is_insured = "insured" in roles
        payer_account = payers.get(policy.get("payer_account_id"), {})
        payer_is_me = policy.get("payer_account_id") == account["account_id"]
        if policy.get("payer_hash") and policy["payer_hash"] == policy["insured_hash"]:
            relationship = "self"
        else:
            relationship = _relationship(table, policy.get("payer_account_id", ""), policy)
        payer_name = payer_account.get("person_name", "")
        plan = plans.get(policy["plan_id"])
        out.append(PolicyView(
            policy_id=policy["policy_id"], plan_id=policy["plan_id"], plan_name=plan.name if plan else "",
            order_id=policy.get("order_id", ""),
            insured={"name": policy["insured_name"] if is_insured else mask_name(policy["insured_name"]),
                     "id_number_masked": mask(cipher.decrypt(policy["insured_id_enc"], ID_NUMBER_CONTEXT))},
            payer={"relationship": relationship, "is_me": payer_is_me,
                   "name_masked": mask_name(payer_name) if payer_name else None},
            status=policy["status"], paid_at=policy.get("paid_at"), benefit_start=policy["benefit_start"],
            coverage_end=policy["coverage_end"], waiting_rule=policy["waiting_rule"],
            auto_renew=bool(policy.get("auto_renew")),
            auto_renew_consent=_consent_for(policy.get("auto_renew_consent"), account),
            year_to_date=_year_to_date_for(policy, roles),
            premium_fen=policy["premium_fen"], payment_method=policy["payment_method"],
            roles=[r for r in VISIBLE_ROLES if r in roles],
            renewal=renewals.renewal_view(policy, account["account_id"])))
    return out


def _year_to_date_for(policy: dict[str, Any], roles: set[str]) -> dict[str, int] | None:
    """Year-to-date figures are claim data (health information): the insured and whoever they authorised see them;
    a relative who only paid does not (DOMAIN §8: claims only with the insured's authorisation)."""
    if not roles & {"insured", "authorized"}:
        return None
    return {"deductible_used_fen": policy.get("ytd_deductible_used_fen", 0),
            "eligible_fen": policy.get("ytd_eligible_fen", 0), "paid_fen": policy.get("ytd_paid_fen", 0)}


def _consent_for(consent: dict[str, Any] | None, account: dict[str, Any]) -> dict[str, Any] | None:
    """What the caller may know about the consent: not another account's id."""
    if not consent:
        return None
    return {"at": consent["at"], "channel": consent["channel"], "payment_method": consent["payment_method"],
            "payer_is_me": consent["payer_account_id"] == account["account_id"]}


def _relationship(table: Table, payer_account_id: str, policy: dict[str, Any]) -> str | None:
    """How the insured is related to the paying account, from the payer's family-member record (None if gone)."""
    if not payer_account_id:
        return None
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
    k = keys.gsi_person(policy["insured_hash"], f"MEMBER#{payer_account_id}")
    items, _ = table.query(pk_name, k[pk_name], index=schema.GSI_BY_PERSON, sk_name=sk_name, sk_prefix=k[sk_name],
                           limit=1)
    return items[0]["relationship"] if items else None


def _gsi_policies(table: Table, index: str, gsi_keys: dict[str, str]) -> list[dict[str, Any]]:
    pk_name, sk_name = schema.GSIS[index]
    return list(table.query_all(pk_name, gsi_keys[pk_name], index=index, sk_name=sk_name,
                                sk_prefix=gsi_keys[sk_name]))
