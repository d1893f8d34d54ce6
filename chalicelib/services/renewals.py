"""Auto-renewal (自动续保, DOMAIN §9): the policy's `renewal` object, and the two runs — the confirmation notices and
the deductions — one policy at a time, each exactly once however often the run is repeated.

What a policy stores (beside `auto_renew`, `auto_renew_consent`, `auto_renew_withdrawal`, written by
services/policies.py):
    renewal          {next_plan_id, status: noticed|renewed|failed, noticed_on, notice_sent_at, notice_id,
                      order_id, deduction_started_at, renewed_policy_id, failure_code}
    renewal_history  [{at, event, channel, by, failure_code?, note?}]  (consent, notice, stop, renew, fail)

The notice: the platform's 代扣代缴确认信息 (idempotent by a key derived from policy and next plan) and the
notifications port to the payer (and the insured, when they are someone else with an account here); then
`renewal.status = noticed`, conditional on the renewal not being recorded yet.

The deduction: a renewal is an order with channel `renewal` through the orders machinery (reservation, ONE deduction
keyed `deduction_key(policy, next plan)`, one issuing transaction). Before money moves the old policy is claimed
(`deduction_started_at`, conditional on consent still on): from then a stop is refused, and a re-run resumes the same
order (same id, same idempotency record) instead of judging the mandate again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.adapters.repositories.renewals import MandateReads
from chalicelib.domain import renewal as rules
from chalicelib.domain.account import Account
from chalicelib.domain.errors import DomainError, UpstreamUnavailable
from chalicelib.domain.order import Order
from chalicelib.domain.plan import Plan
from chalicelib.domain.policy import Policy
from chalicelib.services.family import ID_NUMBER_CONTEXT
from chalicelib.services.orders.ports import OrderPorts

RENEWAL_SCOPE = "renewal"  # idempotency scope of renewal orders: {payer}#renewal / deduction_key
NOTICE_TEMPLATE = "renewal_notice"
FAILED_TEMPLATE = "renewal_failed"
ENDED_TEMPLATE = "renewal_ended"  # the system switched the renewal off (DOMAIN §10.4 takeover)


@dataclass(frozen=True)
class RenewalPorts:
    orders: OrderPorts  # table, platform, cipher, repositories: the order machinery renewals go through
    notifier: Any  # adapters.notifications: notify(recipient, template, data), never raises


# ---- plans -----------------------------------------------------------------------------------------------------
def next_plan_of(plan_id: str) -> Plan | None:
    """The plan that renews `plan_id` (its renewal settings name it), or None."""
    from chalicelib.plans import all_plans

    for plan in all_plans().values():
        schedule = plan.renewal_schedule()
        if schedule is not None and schedule.from_plan_id == plan_id:
            return plan
    return None


def plans_with(today: date, due: str) -> list[Plan]:
    """Next plans whose notices (`due="notices"`) or deductions (`"deductions"`) are due today."""
    from chalicelib.plans import all_plans

    found = []
    for plan in sorted(all_plans().values(), key=lambda p: p.plan_id):
        schedule = plan.renewal_schedule()
        if schedule is not None and (schedule.notices_due(today) if due == "notices"
                                     else schedule.deductions_due(today)):
            found.append(plan)
    return found


def mandates(table: Table, today: date, due: str):
    """(next plan id, policy id) of every consenting policy whose renewal step is due: paged from the renewal index
    (GSI4, sharded) of the plan renewed."""
    from chalicelib.adapters.repositories.policies import PolicyRepository

    policies = PolicyRepository(table)
    for plan in plans_with(today, due):
        for policy_id in policies.renewal_mandates(plan.renewal_schedule().from_plan_id):
            yield plan.plan_id, policy_id


# ---- the policy's renewal object (GET /v1/policies/{id}) ---------------------------------------------------------
def renewal_view(policy: Policy, caller_account_id: str) -> dict[str, Any]:
    """API.md v1.1 `renewal`, computed from what the policy stores. `by` names the caller as "me", another member as
    "member", staff as "staff" and the run as "system": never another account's id."""
    next_plan = next_plan_of(policy.plan_id)
    stored = policy.renewal or rules.RenewalRecord()
    if next_plan is not None and stored.next_plan_id not in (None, next_plan.plan_id):
        stored = rules.RenewalRecord()
    status = rules.current_status(auto_renew=policy.auto_renew, stored_status=stored.status,
                                  withdrawn=bool(policy.auto_renew_withdrawal))
    consent = policy.auto_renew_consent or {}
    source = stored.account_source or consent.get("account_source") or policy.account_source
    schedule = next_plan.renewal_schedule() if next_plan else None
    failure = None
    if status == "failed" and stored.failure_code:
        failure = {"code": stored.failure_code, "message": rules.failure_message(stored.failure_code)}
    return {
        "status": status,
        "next_plan_id": next_plan.plan_id if next_plan else None,
        "notice_sent_at": stored.notice_sent_at,
        "deduction_on": schedule.deduction_on.isoformat() if schedule else None,
        "amount_fen": next_plan.premium_fen if next_plan else None,
        "account_source": source if status != "off" else None,
        "renewed_policy_id": stored.renewed_policy_id,
        "failure": failure,
        "history": [_shown(entry, caller_account_id) for entry in _history(policy)],
    }


def _history(policy: Policy) -> list[dict[str, Any]]:
    history = list(policy.renewal_history or [])
    consent = policy.auto_renew_consent
    if consent and not any(e.get("event") == "consent" for e in history):
        # consent given at purchase (or before the history was kept): shown from the consent record
        history.insert(0, {"at": consent["at"], "event": "consent", "channel": consent["channel"],
                           "by": consent["payer_account_id"]})
    return sorted(history, key=lambda e: e["at"])


def _shown(entry: dict[str, Any], caller_account_id: str) -> dict[str, Any]:
    by = entry.get("by", "system")
    if by == "platform":  # a stop given on the platform's own channel
        by = "member"
    elif by not in ("system", "staff"):
        by = "me" if by == caller_account_id else ("staff" if entry.get("channel") == "counter" else "member")
    return {"at": entry["at"], "event": entry["event"], "channel": entry["channel"], "by": by}


def history_added(policy: Policy, event: str, channel: str, by: str, now: datetime) -> list[dict[str, Any]]:
    """History entries a consent or stop adds; the first change after a consent given at purchase also keeps that
    consent (it lived only in `auto_renew_consent`, which a stop removes)."""
    entries = []
    consent = policy.auto_renew_consent
    if consent and not any(e.get("event") == "consent" for e in policy.renewal_history or []):
        entries.append({"at": consent["at"], "event": "consent", "channel": consent["channel"],
                        "by": consent["payer_account_id"]})
    entries.append(rules.history_entry(now, event, channel, by))
    return entries


def check_switch(policy: Policy, enabled: bool) -> None:
    """The consent rules beyond the orders' (DOMAIN §9.1, §9.4): renewal only from the personal account; no stop once
    the deduction is under way or done (`RENEWAL_ALREADY_DEDUCTED`: cancel the renewed policy instead)."""
    stored = policy.renewal or rules.RenewalRecord()
    if stored.status == "renewed" or (stored.deduction_started_at and stored.status not in rules.TERMINAL):
        rules.next_status("renewed", "consent" if enabled else "stop")  # raises RENEWAL_ALREADY_DEDUCTED


def check_paid_from_personal_account(policy: Policy) -> None:
    """Consent only for a policy paid from the personal account: the same rule as at purchase (checked after the
    person's own personal-account rules, which say more precisely what is missing)."""
    from chalicelib.domain.errors import RuleViolation

    if policy.payment_method != "personal_account":
        raise RuleViolation("AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT", field="enabled")


# ---- one queue message's reads ----------------------------------------------------------------------------------
Reads = MandateReads  # what a message's mandates need, read ahead (adapters/repositories/renewals.py)


def read_mandates(table: Table, mandates: list[tuple[str, str]], due: str) -> MandateReads:
    """One message's reads for (policy id, next plan id) pairs; `due` is "notices" or "deductions"."""
    return MandateReads(table).read(mandates, due)


def _consent(policy: Policy) -> dict[str, Any]:
    return policy.auto_renew_consent or {}


# ---- the notice run -------------------------------------------------------------------------------------------
def notice_one(ports: RenewalPorts, policy_id: str, next_plan_id: str, now: datetime,
               reads: Reads | None = None) -> str:
    """Send one policy's confirmation notice and record it: "noticed", or "skipped" (nothing due or done before)."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.domain.platform import DeductionNotice
    from chalicelib.plans import get_plan

    table, cipher = ports.orders.table, ports.orders.cipher
    reads = reads or Reads(table)
    policy = reads.policy(policy_id)
    next_plan = get_plan(next_plan_id)
    schedule = next_plan.renewal_schedule()
    today = now.astimezone(CHINA_TZ).date()
    if (policy is None or not _in_run(policy, schedule) or policy.renewal is not None
            or not schedule.notices_due(today)):
        return "skipped"
    ended = _consent_ended(policy)
    if ended is not None:  # no notice of a deduction that will not happen
        return end_consent(ports, policy, ended, now)
    source = _consent(policy)["account_source"]
    insured_id = cipher.decrypt(policy.insured_id_enc, ID_NUMBER_CONTEXT)
    notice = rules.notice_for(insured_name=policy.insured_name, next_plan_name=next_plan.name,
                              amount_fen=next_plan.premium_fen, account_source=source, schedule=schedule,
                              to_insured=True)
    try:
        receipt = ports.orders.platform.send_deduction_notice(DeductionNotice(
            idempotency_key=notice_key(policy_id, next_plan_id), id_number=insured_id, plan_name=next_plan.name,
            amount_fen=next_plan.premium_fen, account_source=source, deduction_on=schedule.deduction_on,
            text=notice.text()))
    except PlatformUnavailable:
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="医保信息平台") from None  # retried by the run
    except PlatformError:
        receipt = None  # the platform does not know the insured: our own channels still carry the notice
    record = rules.RenewalRecord(next_plan_id=next_plan_id, status=rules.next_status("consented", "notice"),
                                 noticed_on=today.isoformat(), notice_sent_at=iso(now), account_source=source,
                                 notice_id=receipt.notice_id if receipt is not None else None)
    entries = history_added(policy, "notice", "platform" if receipt else "system", "system", now)
    if not ports.orders.policies.record_notice(policy_id, record, entries):
        return "skipped"  # stopped meanwhile, or another delivery recorded it first
    payer_notice = rules.notice_for(insured_name=policy.insured_name, next_plan_name=next_plan.name,
                                    amount_fen=next_plan.premium_fen, account_source=source, schedule=schedule,
                                    to_insured=False)
    data = {"policy_id": policy_id, "next_plan_id": next_plan_id, "text": payer_notice.text(),
            "amount_fen": next_plan.premium_fen, "deduction_on": schedule.deduction_on.isoformat()}
    for account_id in _recipients(reads, policy):
        ports.notifier.notify(account_id, NOTICE_TEMPLATE, data)
    return "noticed"


def notice_key(policy_id: str, next_plan_id: str) -> str:
    return f"renewal-notice-{policy_id}-{next_plan_id}"


def _recipients(reads: Reads, policy: Policy) -> list[str]:
    """The payer, and the insured when someone else and they have an account here (their identity binding)."""
    payer = _consent(policy)["payer_account_id"]
    insured = reads.bound_account(policy.insured_hash)
    return [payer] + ([insured] if insured and insured != payer else [])


def _in_run(policy: Policy, schedule: rules.RenewalSchedule) -> bool:
    return (policy.status == "active" and policy.auto_renew and policy.plan_id == schedule.from_plan_id
            and bool(policy.auto_renew_consent))


# ---- the deduction run ------------------------------------------------------------------------------------------
def deduct_one(ports: RenewalPorts, policy_id: str, next_plan_id: str, now: datetime,
               reads: Reads | None = None) -> str:
    """Renew one policy: "renewed", "failed:{CODE}" (the reason recorded and the payer told; nothing deducted) or
    "skipped" (not consenting, or done before). At most one deduction however often it runs.

    A first attempt makes two writes: the reservation (idempotency record, order, the person's cover marker — and the
    old policy claimed, conditional on consent still on: from then a stop is refused) and, after the one deduction,
    the issuing transaction (order paid, new policy, cover, counters — and the old policy's `renewed`)."""
    from chalicelib.plans import get_plan

    reads = reads or Reads(ports.orders.table)
    policy = reads.policy(policy_id)
    next_plan = get_plan(next_plan_id)
    schedule = next_plan.renewal_schedule()
    today = now.astimezone(CHINA_TZ).date()
    if policy is None or not schedule.deductions_due(today):
        return "skipped"
    if policy.renewal is not None and policy.renewal.ended:
        return "skipped"
    if policy.renewal is not None and policy.renewal.claimed:  # an earlier attempt's order: resume it, never judge
        return _resume(ports, policy, next_plan, now)
    if not _in_run(policy, schedule):
        return "skipped"
    ended = _consent_ended(policy)
    if ended is not None:
        return end_consent(ports, policy, ended, now)
    payer = reads.account(_consent(policy)["payer_account_id"])
    covered = reads.covered(next_plan.plan_id, policy.insured_hash)
    failure = _failure(ports, policy, payer, next_plan, schedule, covered)
    if failure is not None:
        return _record_failure(ports, policy, next_plan_id, failure, now)
    order = _renewal_order(policy, payer, next_plan, now)
    reserved = _reserve_claiming(ports, policy, order, now)
    if reserved is not None:
        return reserved
    return _pay_reserved(ports, policy, order, now)


def _resume(ports: RenewalPorts, policy: Policy, next_plan: Plan, now: datetime) -> str:
    """A mandate an earlier attempt claimed (its worker died, timed out, or another delivery holds it): the same
    order, the same deduction key, read afresh."""
    table = ports.orders.table
    policy = MandateReads(table).fresh_policy(policy.policy_id) or policy
    record = policy.renewal or rules.RenewalRecord()
    if record.ended:
        return "skipped"
    payer = MandateReads(table).account(record.payer_account_id) if record.payer_account_id else None
    order = _renewal_order(policy, payer, next_plan, now, order_id=record.order_id)
    refused = _ensure_deduction(ports, order)
    if refused is not None:
        return refused_after_claim(ports, policy, order, refused, now)
    return _pay(ports, policy, order, now)


def _reserve_claiming(ports: RenewalPorts, policy: Policy, order: Order, now: datetime) -> str | None:
    """ONE transaction before any money moves: the renewal's idempotency record (in progress), the order (settling,
    under its lease), the insured's cover marker for the next plan reserved, and the old policy claimed by this order
    while consent is still on. None when written; otherwise the outcome."""
    from chalicelib.adapters.repositories.orders import place_op, reserve_ops
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services import idempotency

    idem = order.idempotency
    ops = [idempotency.in_progress_op(idem["scope"], idem["key"], idem["request_hash"], now, order.order_id),
           place_op(order), *reserve_ops(order.model_dump(), now),
           PolicyRepository.renewal_claim_op(policy.policy_id, order.order_id, order.payer_account_id, iso(now))]
    try:
        ports.orders.orders.transact(ops)
    except ConditionFailed as exc:
        reasons = exc.reasons or []
        if len(reasons) == len(ops) and reasons[-1] == "ConditionalCheckFailed":
            return "skipped"  # stopped meanwhile, or another delivery claimed it first (it finishes the work)
        if any(r == "ConditionalCheckFailed" for r in reasons[2:2 + len(order.insured)]):
            return _record_failure(ports, policy, order.plan_id, "ALREADY_COVERED", now)  # someone holds them
        raise RenewalInFlight("PAYMENT_RESULT_PENDING", order_id=order.order_id) from None
    return None


def _pay_reserved(ports: RenewalPorts, policy: Policy, order: Order, now: datetime) -> str:
    """The one deduction and the issuing transaction, which also records the renewal on the old policy."""
    from chalicelib.adapters.repositories.orders import order_item
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services.orders.personal_account import _settle

    renewed = PolicyRepository.renewal_renewed_op(policy.policy_id, order.policy_ids[0], order.order_id,
                                                  rules.history_entry(now, "renew", "system", "system"))
    try:
        _settle(ports.orders, order_item(order), now, deduct=True, issue_with=(renewed,))
    except UpstreamUnavailable:
        raise  # outcome unknown: the run retries; the claim makes the retry resume the same order and key
    except DomainError as exc:  # refused by the platform or covered meanwhile: what the order became decides
        return _after_order_refused(ports, policy, order, _failure_code(exc.code), now)
    return "renewed"


def _ensure_deduction(ports: RenewalPorts, order: Order) -> str | None:
    """A resumed renewal whose order is still settling: its one deduction is asked for again with the same key (the
    platform answers the first one if it happened, or makes it now), so a timeout before the deduction does not end
    the renewal. An order that ended without cover (its key released) is not deducted again. Returns a refusal
    code, or None."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.repositories.idempotency import IdempotencyRepository

    idem = order.idempotency
    record = IdempotencyRepository(ports.orders.table).get(idem["scope"], idem["key"])
    if record is None:
        ended = ports.orders.orders.get(order.order_id)
        if ended is None:  # claimed, then the worker died before the reservation: nothing written, nothing taken
            return None  # the order starts now, with the same id and key
        return _failure_code(ended.failure or "PAYMENT_REFUSED")
    if record.state == "completed":
        return None
    planned = order.deductions[0]
    try:
        ports.orders.platform.deduct(ports.orders.cipher.decrypt(order.payer_id_enc, ID_NUMBER_CONTEXT),
                                     planned.source, planned.amount_fen, planned.key, reference=order.order_id)
    except PlatformUnavailable:
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order.order_id) from None
    except PlatformError as exc:
        return _failure_code(exc.code)  # nothing taken; the machinery below undoes the reservation
    return None


def _failure_code(code: str) -> str:
    return code if code in rules.FAILURE_CODES else "PAYMENT_REFUSED"


def refused_after_claim(ports: RenewalPorts, policy: Policy, order: Order, code: str, now: datetime) -> str:
    """The platform refused a resumed deduction: let the order machinery end the order (it finds no deduction,
    releases the reservation), then record what the order became."""
    try:
        _pay_order(ports, order, now)
    except DomainError:
        pass
    return _after_order_refused(ports, policy, order, code, now)


class RenewalInFlight(UpstreamUnavailable):
    """The renewal's order is held (its lease) by another delivery of the same mandate — alive, or dead and its
    lease not yet run out. Never a failure: the item is tried again, and whoever holds the order, a later delivery,
    a re-run or the reconciliation finishes it (same order, same deduction key)."""


def _after_order_refused(ports: RenewalPorts, policy: Policy, order: Order, code: str, now: datetime) -> str:
    """The order machinery answered with a refusal for this mandate's order: what the ORDER became decides, never
    the refusal's code alone. Issued (by another delivery) → renewed; still settling (another holder) → tried
    again; absent or ended without cover → `failed` with the reason (nothing was kept)."""
    from chalicelib.domain.order_lifecycle import PAID, SETTLING

    stored = ports.orders.orders.get(order.order_id)
    if stored is not None and stored.status == PAID:
        return "renewed" if _mark_renewed(ports, policy.policy_id, stored.policy_ids[0], now) else "skipped"
    if stored is not None and stored.status == SETTLING:
        raise RenewalInFlight("PAYMENT_RESULT_PENDING", order_id=order.order_id)
    return _record_failure(ports, policy, order.plan_id, code, now, order_id=order.order_id)


def _pay_order(ports: RenewalPorts, order: Order, now: datetime):
    """The orders machinery's own path for an order it may have seen before (replay, resume under its lease)."""
    from chalicelib.adapters.repositories.orders import order_item
    from chalicelib.services.orders.personal_account import _pay_from_personal_account

    return _pay_from_personal_account(ports.orders, order_item(order), now)


def _failure(ports: RenewalPorts, policy: Policy, payer: Account | None, next_plan: Plan,
             schedule: rules.RenewalSchedule, covered: bool) -> str | None:
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    platform, cipher = ports.orders.platform, ports.orders.cipher
    try:
        person = platform.find_person(cipher.decrypt(policy.insured_id_enc, ID_NUMBER_CONTEXT))
        balance = 0
        if payer is not None and payer.id_enc:
            balances = platform.balances(cipher.decrypt(payer.id_enc, ID_NUMBER_CONTEXT))
            source = _consent(policy)["account_source"]
            balance = balances.current_fen if source == "current" else balances.prior_years_fen
    except PlatformUnavailable:
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="医保信息平台") from None
    except PlatformError:
        person, balance = None, 0
    return rules.deduction_failure(noticed_on=policy.renewal.noticed_day if policy.renewal else None,
                                   schedule=schedule, basic_status=person.status if person else None,
                                   same_city=person is not None and person.city == next_plan.city,
                                   covered_by_anyone=covered, balance_fen=balance,
                                   premium_fen=next_plan.premium_fen)


def _renewal_order(policy: Policy, payer: Account | None, next_plan: Plan, now: datetime,
                   order_id: str | None = None) -> Order:
    """The renewal as an order (channel `renewal`), settling under its lease: one insured, one deduction with the
    renewal's key, consent inherited (`auto_renew`), benefits from the next plan's start (DOMAIN §4.6 `renewal`)."""
    from chalicelib.domain.order import OrderInsured, PlannedDeduction
    from chalicelib.domain.order_lifecycle import SETTLING
    from chalicelib.services.idempotency import body_hash
    from chalicelib.services.orders.common import LEASE
    from chalicelib.services.orders.placing import new_order_id

    consent = _consent(policy)
    # consent cannot change once claimed (a stop or a new consent is refused), so a resumed order is built the same
    payer_account_id = consent.get("payer_account_id") or (policy.renewal and policy.renewal.payer_account_id)
    source = consent.get("account_source") or (policy.renewal and policy.renewal.account_source)
    order_id = order_id or new_order_id(now)
    person = OrderInsured(ref=policy.insured_member_id or "self", id_hash=policy.insured_hash,
                          id_enc=policy.insured_id_enc, name=policy.insured_name, relationship=None,
                          member_id=policy.insured_member_id, who="被保险人", account_source=source,
                          renewal_without_gap=True, benefit_start=next_plan.coverage_start.isoformat(),
                          waiting_rule="renewal", platform={"county": policy.county})
    key = rules.deduction_key(policy.policy_id, next_plan.plan_id)
    return Order(
        order_id=order_id, plan_id=next_plan.plan_id, payer_account_id=payer_account_id,
        payer_hash=payer.person_hash if payer else None, payer_id_enc=payer.id_enc if payer else None,
        payment_method="personal_account",
        channel="renewal", renews_policy_id=policy.policy_id, premium_fen=next_plan.premium_fen,
        amount_fen=next_plan.premium_fen, auto_renew=True, insured=[person],
        policy_ids=[f"POL{order_id[3:]}01"], status=SETTLING, lease_until=iso(now + LEASE), created_at=iso(now),
        updated_at=iso(now), version=1,
        idempotency={"scope": f"{payer_account_id}#{RENEWAL_SCOPE}", "key": key,
                     "request_hash": body_hash({"policy_id": policy.policy_id, "next_plan_id": next_plan.plan_id})},
        login_channel=payer.login_channel if payer else None,
        deductions=[PlannedDeduction(key=key, source=source, amount_fen=next_plan.premium_fen)])


def _pay(ports: RenewalPorts, policy: Policy, order: Order, now: datetime) -> str:
    """A resumed renewal: the orders machinery replays or resumes the order; the old policy records the renewal."""
    try:
        _, view = _pay_order(ports, order, now)
    except UpstreamUnavailable:
        raise  # outcome unknown: the run retries, and the same key and order resume it
    except DomainError as exc:  # refused by the platform, covered meanwhile — or held by another delivery
        return _after_order_refused(ports, policy, order, _failure_code(exc.code), now)
    renewed_policy_id = view["policies"][0]["policy_id"] if view.get("policies") else order.policy_ids[0]
    return "renewed" if _mark_renewed(ports, policy.policy_id, renewed_policy_id, now) else "skipped"


def mark_renewed(table: Table, policy_id: str, renewed_policy_id: str, now: datetime) -> bool:
    """The old policy records its renewal (status, the new policy, history) and leaves the renewal index: once.
    For a renewal whose order someone else issued (a resumed attempt, the platform reconciliation completing a
    renewal whose answer was lost); a first attempt records it inside the issuing transaction."""
    from chalicelib.adapters.repositories.policies import PolicyRepository

    return PolicyRepository(table).mark_renewed(policy_id, renewed_policy_id,
                                                rules.history_entry(now, "renew", "system", "system"))


def _mark_renewed(ports: RenewalPorts, policy_id: str, renewed_policy_id: str, now: datetime) -> bool:
    return ports.orders.policies.mark_renewed(policy_id, renewed_policy_id,
                                              rules.history_entry(now, "renew", "system", "system"))


def _record_failure(ports: RenewalPorts, policy: Policy, next_plan_id: str, code: str, now: datetime,
                    order_id: str | None = None) -> str:
    """`failed` with the reason, out of the renewal index, and the payer told (DOMAIN §9.5). Never retried.
    Before the claim (`order_id` None) only while consent is on and nothing claimed it; after it (the order
    machinery ended `order_id` without cover) only while the claim stands."""
    record = policy.renewal or rules.RenewalRecord(next_plan_id=next_plan_id)
    failed = record.model_copy(update={
        "next_plan_id": next_plan_id, "status": rules.next_status(record.status or "consented", "fail"),
        "failure_code": code, "deduction_started_at": None,  # ended: nothing is under way any more
        **({"order_id": order_id} if order_id is not None else {})})
    entry = rules.history_entry(now, "fail", "system", "system", failure_code=code)
    if not ports.orders.policies.record_failure(policy.policy_id, failed, entry, after_claim=order_id is not None):
        return "skipped"
    payer = _consent(policy).get("payer_account_id") or record.payer_account_id
    ports.notifier.notify(payer, FAILED_TEMPLATE, {"policy_id": policy.policy_id, "next_plan_id": next_plan_id,
                                                   "code": code, "text": rules.failure_message(code)})
    return f"failed:{code}"


# ---- consent the system switches off (DOMAIN §9.1, §10.4) --------------------------------------------------------
def _consent_ended(policy: Policy) -> str | None:
    return rules.consent_ended(payment_method=policy.payment_method, taken_over=policy.taken_over is not None)


def end_consent(ports: RenewalPorts, policy: Policy, reason: str, now: datetime) -> str:
    """A mandate that may no longer renew from the personal account (its premium taken over by a county government):
    consent switched off by the system — recorded like a stop, with the reason — out of the renewal index, and the
    payer told why. "skipped:{REASON}" (counted with the reason), or "skipped" if something else changed it first."""
    if not _stop(ports.orders.policies, policy.policy_id, now, "system", "system", note=reason):
        return "skipped"
    ports.notifier.notify(_consent(policy)["payer_account_id"], ENDED_TEMPLATE,
                          {"policy_id": policy.policy_id, "reason": reason, "text": rules.ended_message(reason)})
    return f"skipped:{reason}"


# ---- stops given on the platform's own channel (DOMAIN §9.9) ------------------------------------------------------
def apply_platform_stops(ports: RenewalPorts, now: datetime) -> int:
    """Read the platform's notice replies after our cursor and stop each renewal answered `stop` (unless its
    deduction is under way: then the member cancels the renewed policy). Returns how many were stopped. The cursor
    moves after each page, so a re-run reads each reply once; applying a stop twice changes nothing."""
    from chalicelib.adapters.medical_platform import PAGE_LIMIT, PlatformUnavailable
    from chalicelib.adapters.repositories.renewals import NoticeReplyCursor

    replies_read = NoticeReplyCursor(ports.orders.table)
    cursor = replies_read.position()
    stopped = 0
    while True:
        try:
            replies = ports.orders.platform.notice_replies(cursor, PAGE_LIMIT)
        except PlatformUnavailable:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="医保信息平台") from None
        if not replies:
            return stopped
        for reply in replies:
            parsed = _from_notice_key(reply.notice_idempotency_key)
            if reply.reply == "stop" and parsed is not None:
                stopped += _stop(ports.orders.policies, parsed[0], reply.at, "platform", "platform")
        cursor = replies[-1].seq
        replies_read.move_to(cursor, iso(now))


def _from_notice_key(key: str) -> tuple[str, str] | None:
    prefix = "renewal-notice-"
    if not key.startswith(prefix) or "-" not in key[len(prefix):]:
        return None
    policy_id, next_plan_id = key[len(prefix):].split("-", 1)
    return policy_id, next_plan_id


def _stop(policies, policy_id: str, at: datetime, channel: str, by: str, note: str | None = None) -> int:
    """Withdraw consent on behalf of the member (platform channel, counter, the system): 1 if stopped now, 0 if it
    was off already or its deduction is under way."""
    withdrawal = {"at": iso(at), "channel": channel, "account_id": by, **({"note": note} if note else {})}
    entry = rules.history_entry(at, "stop", channel, by, note=note)
    return 1 if policies.withdraw_consent(policy_id, withdrawal, entry) else 0


COUNTER_ROLES = frozenset({"bureau", "insurer_admin"})  # 医保经办窗口 and the insurer's service desk


def stop_at_counter(ports: RenewalPorts, principal, policy_id: str, enabled: bool, note: str | None,
                    now: datetime) -> dict[str, Any]:
    """PUT /v1/admin/policies/{id}/auto-renewal by staff: a member's stop recorded at a counter, with the staff id
    and the note (DOMAIN §9.9). Consent is the payer's own act (their personal account): not given by staff."""
    from chalicelib.domain.errors import Forbidden, NotFound, RuleViolation

    if principal.role not in COUNTER_ROLES:
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    if enabled:
        raise RuleViolation("RENEWAL_CONSENT_BY_MEMBER", field="enabled")
    policies = ports.orders.policies
    policy = policies.get(policy_id)
    if policy is None:
        raise NotFound("POLICY_NOT_FOUND", policy_id=policy_id)
    check_switch(policy, enabled=False)
    if not _stop(policies, policy_id, now, "counter", principal.subject, note=note):
        policy = policies.get(policy_id) or policy
        check_switch(policy, enabled=False)  # the deduction started meanwhile: refused
    policy = policies.get(policy_id) or policy
    return {"policy_id": policy_id, "auto_renew": policy.auto_renew,
            "renewal": renewal_view(policy, caller_account_id="")}


# ---- the run report (GET /v1/admin/renewal-runs) ------------------------------------------------------------------
REPORT_ROLES = frozenset({"bureau", "insurer_admin"})
RENEWAL_JOBS = ("renewal_notices", "renewal_deductions")


def outcome_counts(job_counts: tuple[str, ...], outcome: str, next_plan_id: str) -> dict[str, int]:
    """One item's counts for the run record: the job's named counts (all present, zeros too), the same per next plan
    (`renewed@lishui-2022`), each failure's reason per next plan (`failure:INSUFFICIENT_BALANCE@lishui-2022`) and
    each reason a mandate left the run (`skip:PREMIUM_TAKEN_OVER@lishui-2022`)."""
    name, _, code = outcome.partition(":")
    counts = {c: 0 for c in job_counts} | {name: 1, f"{name}@{next_plan_id}": 1}
    if code:
        counts[f"{'skip' if name == 'skipped' else 'failure'}:{code}@{next_plan_id}"] = 1
    return counts


def renewal_runs(runs, principal, plan_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """Each renewal run that had work for `plan_id` (the plan renewed into), newest first: its counts for that plan
    and its failures by reason — for the bureau and the insurer. `runs`: the job runs repository."""
    from chalicelib.domain.errors import Forbidden
    from chalicelib.plans import get_plan
    from chalicelib.services import fanout

    if principal.role not in REPORT_ROLES:
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    get_plan(plan_id)  # 404 for an unknown plan
    suffix = f"@{plan_id}"
    out = []
    for job in RENEWAL_JOBS:
        for run in fanout.list_runs(runs, job, limit=limit):
            mine = {k[:-len(suffix)]: v for k, v in run.counts.items() if k.endswith(suffix)}
            if not mine:
                continue
            failures = {k[len("failure:"):]: v for k, v in mine.items() if k.startswith("failure:")}
            skipped = {k[len("skip:"):]: v for k, v in mine.items() if k.startswith("skip:")}
            counts = {k: v for k, v in mine.items() if not k.startswith(("failure:", "skip:"))}
            out.append({"run_id": run.run_id, "job": job, "plan_id": plan_id, "started_at": run.started_at,
                        "finished_at": run.finished_at, "status": run.status, "counts": counts,
                        "failures": failures, "skipped": skipped})
    return sorted(out, key=lambda r: r["started_at"], reverse=True)
