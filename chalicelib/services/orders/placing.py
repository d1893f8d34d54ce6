"""POST /v1/orders: validate everything for every insured (no write), then hand the order to its payment path."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.repositories.orders import PlacingReads
from chalicelib.domain.enrolment_rules import (
    RELATIONSHIP_ZH,
    benefit_start,
    check_eligible,
    check_personal_account_allowed,
    check_plan_open,
)
from chalicelib.domain.errors import (
    BadRequest,
    DomainError,
    NotFound,
    RuleViolation,
    Unauthorized,
    UpstreamUnavailable,
)
from chalicelib.domain.messages import term
from chalicelib.domain.order import CoverMarker, FamilyMemberRef, Order, OrderInsured, OrderPayer, PlannedDeduction
from chalicelib.domain.order_lifecycle import (
    INITIAL_STATUS,
    PENDING_PAYMENT,
)
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson
from chalicelib.services.family import ID_NUMBER_CONTEXT, find_platform_person
from chalicelib.services.orders.common import (
    _PLATFORM,
    _SOURCE_ZH,
    ORDER_SCOPE,
    WECHAT_PAY_WINDOW,
    _taken,
    _yuan,
)
from chalicelib.services.orders.personal_account import _replay_or_resume, pay_from_personal_account
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.wechat import _order_wechat_pay, expire_unpaid_order


@dataclass
class Insured:
    """One person an order covers, with what the platform said and the rules decided."""

    ref: str  # "self" | member_id (what the client sent)
    id_hash: str
    id_enc: str
    name: str
    relationship: str | None  # None = the payer themself
    member_id: str | None
    who: str  # how messages name them, without personal data: 您本人 / 您的配偶(第2位被保险人)
    person: PlatformPerson | None = None
    account_source: str | None = None  # personal account: current | prior_years
    renewal_without_gap: bool = False  # covered by the scheme's previous plan (DOMAIN §4.6)
    benefit_start: date | None = None
    waiting_rule: str | None = None

    def snapshot(self) -> OrderInsured:
        """What the order keeps of them (the ID only encrypted; the platform facts that set benefit start)."""
        person = self.person.model_dump(mode="json", exclude={"id_number", "name"}) if self.person else {}
        return OrderInsured(ref=self.ref, id_hash=self.id_hash, id_enc=self.id_enc, name=self.name,
                            relationship=self.relationship, member_id=self.member_id, who=self.who,
                            account_source=self.account_source, renewal_without_gap=self.renewal_without_gap,
                            benefit_start=self.benefit_start.isoformat(), waiting_rule=self.waiting_rule,
                            platform=person)


def place_order(ports: OrderPorts, principal, plan_id: str, insured_refs: list[str], payment_method: str,
                auto_renew: bool, idempotency_key: str, request_hash: str, now: datetime) -> tuple[int, dict[str, Any]]:
    """POST /v1/orders → (status code, order view). All or nothing, exactly once per Idempotency-Key."""
    from chalicelib.plans import get_plan

    plan = get_plan(plan_id)
    _check_request_shape(plan, insured_refs, payment_method, auto_renew)
    account_id = principal.account_id
    scope = f"{account_id}#{ORDER_SCOPE}"
    member_ids = [ref for ref in insured_refs if ref != "self"]
    reads = ports.orders.placing_reads(account_id, scope, idempotency_key, member_ids)
    if reads.previous is not None:
        return _replay_or_resume(ports, reads.previous, request_hash, now)
    payer = reads.payer
    if payer is None:
        raise Unauthorized("TOKEN_INVALID")
    try:
        order = _validated_order(ports, plan, reads, insured_refs, payment_method, auto_renew, scope,
                                 idempotency_key, request_hash, now)
    except DomainError:
        # A duplicate of a request that finished while we validated (e.g. its cover markers now exist) must get
        # that request's answer, not a refusal: look at the key once more.
        previous = ports.orders.request_record(scope, idempotency_key)
        if previous is not None:
            return _replay_or_resume(ports, previous, request_hash, now)
        raise
    if payment_method == "personal_account":
        return pay_from_personal_account(ports, order, now)
    return _order_wechat_pay(ports, payer, order, now)


def _validated_order(ports: OrderPorts, plan: Plan, reads: PlacingReads, insured_refs: list[str],
                     payment_method: str, auto_renew: bool, scope: str, idempotency_key: str,
                     request_hash: str, now: datetime) -> Order:
    """Every rule of DOMAIN §2–§4 for every insured, with no write: the order to place, or a refusal."""
    platform, cipher = ports.platform, ports.cipher
    account = reads.payer
    insured = _resolve_insured(account, insured_refs, reads.members)
    today = now.astimezone(CHINA_TZ).date()
    check_plan_open(plan, today)
    covered = _covered(ports, plan, insured)
    for person in insured:
        with _about(person):
            person.person = _platform_person(platform, cipher, person.id_enc, person.who)
    payer_person = None  # whose personal account pays, as the platform knows them
    if payment_method == "personal_account":
        account.bound_person()
        payer_person = next((i.person for i in insured if i.relationship is None), None) or _platform_person(
            platform, cipher, account.id_enc, term("WHO_SELF"))
    for person in insured:
        with _about(person):
            check_eligible(plan, person.person, who=person.who)
            previous_cover = covered.get((plan.previous_plan_id, person.id_hash)) if plan.previous_plan_id else None
            person.renewal_without_gap = previous_cover is not None and previous_cover.is_issued
            start = benefit_start(plan, person.person, today, person.renewal_without_gap, who=person.who)
            person.benefit_start, person.waiting_rule = start.benefit_start, start.waiting_rule
            if payment_method == "personal_account":
                person.account_source = check_personal_account_allowed(plan, payer_person, person.person,
                                                                       person.relationship, who=person.who)
    for person in insured:
        marker = covered.get((plan.plan_id, person.id_hash))
        if marker is not None and not _freed_by_expiry(ports, marker, now):
            raise _taken(marker, plan, account.account_id, person.who, person.ref)
    order = _new_order(plan, account, insured, payment_method, auto_renew, scope, idempotency_key, request_hash,
                       now)
    if payment_method == "personal_account":
        _check_relatives_limit(ports, plan, account.account_id, insured)
        _check_balances(platform, cipher, account, order)
    return order


def _check_request_shape(plan: Plan, refs: list[str], payment_method: str, auto_renew: bool) -> None:
    if not refs:
        raise BadRequest("INSURED_REQUIRED", field="insured")
    if len(set(refs)) != len(refs):
        raise BadRequest("DUPLICATE_INSURED", field="insured")
    if len(refs) > plan.max_insured_per_order:
        raise RuleViolation("TOO_MANY_INSURED", field="insured", limit=plan.max_insured_per_order, count=len(refs))
    if payment_method not in plan.payment_methods:
        method = term("PAYMENT_METHOD_PERSONAL_ACCOUNT" if payment_method == "personal_account" else "PAYMENT_METHOD_WECHAT")
        raise RuleViolation("PAYMENT_METHOD_NOT_OFFERED", field="payment_method", method=method,
                            plan_name=plan.name)
    if auto_renew and payment_method != "personal_account":
        raise RuleViolation("AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT", field="auto_renew")


def _resolve_insured(account: OrderPayer, refs: list[str], members: dict[str, FamilyMemberRef]) -> list[Insured]:
    """`self` = the caller's bound person; member ids = the caller's own family members only (else 404)."""
    insured = []
    for position, ref in enumerate(refs, start=1):
        if ref == "self":
            insured.append(Insured(ref, account.bound_person(), account.id_enc, account.person_name or "", None, None,
                                   term("WHO_SELF")))
            continue
        member = members.get(ref)
        if member is None:
            raise NotFound("MEMBER_NOT_FOUND", field="insured", member_id=ref)
        relation = RELATIONSHIP_ZH.get(member.relationship) or term("RELATION_UNKNOWN")
        insured.append(Insured(ref, member.id_hash, member.id_enc, member.name, member.relationship, ref,
                               term("WHO_FAMILY_MEMBER", relation=relation, position=position)))
    if len({i.id_hash for i in insured}) != len(insured):  # a member who is the caller, or listed twice
        raise BadRequest("DUPLICATE_INSURED", field="insured")
    return insured


class _about:
    """Name the insured (by their ref, never personal data) in any refusal raised about them."""

    def __init__(self, insured: Insured) -> None:
        self._ref = insured.ref

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if isinstance(exc, DomainError):
            exc.details.setdefault("insured", self._ref)
        return False


def _platform_person(platform, cipher, id_enc: str, who: str) -> PlatformPerson:
    person = find_platform_person(platform, cipher.decrypt(id_enc, ID_NUMBER_CONTEXT))
    if person is None:
        raise RuleViolation("INSURED_NOT_ON_PLATFORM", who=who)
    return person


def _freed_by_expiry(ports: OrderPorts, marker: CoverMarker, now: datetime) -> bool:
    """A person held by an unpaid WeChat order past its deadline, not yet closed by the reconciliation: close it now
    (through the Pay API, as the reconciliation would) rather than make the member wait for the next run."""
    if not marker.is_reserved or not marker.pay_before or datetime.fromisoformat(marker.pay_before) > now:
        return False
    holder = ports.orders.get(marker.order_id)
    if holder is None or holder.status != PENDING_PAYMENT:
        return False
    return expire_unpaid_order(ports, holder, now)


def _covered(ports: OrderPorts, plan: Plan, insured: list[Insured]) -> dict[tuple[str, str], CoverMarker]:
    """One BatchGetItem: the cover markers (issued or reserved) of everyone, in this plan and the previous one
    (renewal without gap), by (plan_id, id_hash)."""
    plan_ids = [plan.plan_id] + ([plan.previous_plan_id] if plan.previous_plan_id else [])
    return ports.orders.covers([(p, i.id_hash) for i in insured for p in plan_ids])


def _check_relatives_limit(ports: OrderPorts, plan: Plan, account_id: str, insured: list[Insured]) -> None:
    relatives = [i for i in insured if i.account_source == "prior_years"]
    if not relatives or plan.personal_account is None:
        return
    already = sum(1 for p in ports.policies.for_payer(account_id, plan.plan_id)
                  if p.status == "active" and p.account_source == "prior_years")
    limit = plan.personal_account.max_relatives_per_payer
    if already + len(relatives) > limit:
        raise RuleViolation("TOO_MANY_RELATIVES", field="insured", limit=limit, already=already,
                            count=len(relatives))


def _check_balances(platform, cipher, account: OrderPayer, order: Order) -> None:
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    try:
        balances = platform.balances(cipher.decrypt(account.id_enc, ID_NUMBER_CONTEXT))
    except (PlatformError, PlatformUnavailable):
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=_PLATFORM) from None
    available = {"current": balances.current_fen, "prior_years": balances.prior_years_fen}
    for planned in order.deductions:
        if available[planned.source] < planned.amount_fen:
            raise RuleViolation("INSUFFICIENT_BALANCE", account_source=planned.source,
                                account_part=_SOURCE_ZH[planned.source], needed_yuan=_yuan(planned.amount_fen),
                                available_yuan=_yuan(available[planned.source]),
                                needed_fen=planned.amount_fen, available_fen=available[planned.source])


def new_order_id(now: datetime) -> str:
    """Time-ordered, unguessable: ORD + yyyymmddHHMMSS + 12 hex."""
    return f"ORD{now.astimezone(CHINA_TZ):%Y%m%d%H%M%S}{uuid.uuid4().hex[:12].upper()}"


def _new_order(plan: Plan, account: OrderPayer, insured: list[Insured], payment_method: str, auto_renew: bool,
               scope: str, idempotency_key: str, request_hash: str, now: datetime) -> Order:
    order_id = new_order_id(now)
    premium = plan.premium_fen
    deductions = []
    if payment_method == "personal_account":
        # One deduction per part of the account: current balance for self, 历年结余 for relatives.
        by_source: dict[str, int] = {}
        for person in insured:
            by_source[person.account_source] = by_source.get(person.account_source, 0) + premium
        deductions = [PlannedDeduction(key=f"{order_id}-{source}", source=source, amount_fen=amount)
                      for source, amount in by_source.items()]
    return Order(
        order_id=order_id, plan_id=plan.plan_id, payer_account_id=account.account_id,
        payer_hash=account.person_hash, payer_id_enc=account.id_enc, payment_method=payment_method,
        premium_fen=premium, amount_fen=premium * len(insured), auto_renew=auto_renew,
        insured=[i.snapshot() for i in insured],
        policy_ids=[f"POL{order_id[3:]}{n:02d}" for n in range(1, len(insured) + 1)],
        status=INITIAL_STATUS[payment_method], created_at=iso(now), updated_at=iso(now), version=1,
        idempotency={"scope": scope, "key": idempotency_key, "request_hash": request_hash},
        login_channel=account.login_channel,
        # Not `expires_at`: that is the table's TTL attribute (a number); an order is never deleted by TTL.
        pay_before=iso(now + WECHAT_PAY_WINDOW) if payment_method == "wechat_pay" else None,
        deductions=deductions)
