"""Orders and payments: money taken exactly once, cover exactly when paid (DOMAIN §2–§4, docs/payments.md).

Personal account (医保个人账户), synchronous:
  validate everything (no write) → ONE transaction: idempotency record `in_progress` + Order `settling` (with the
  planned deductions and a lease) → platform deduction(s), keys derived from the order id → ONE transaction issuing
  everything: order `settling → paid`, per insured a Policy and a Cover marker (`attribute_not_exists`), the
  idempotency record completed. Any failure after a deduction leaves the order `settling` (or `refund_pending`), and
  whoever next holds its lease — the member's retry with the same key, or `reconcile` — finishes it from what the
  platform says (`find_deduction` by key): every deduction found → issue; otherwise reverse what was found → fail.

WeChat Pay, asynchronous:
  validate → JSAPI prepay (out_trade_no = order id) → ONE transaction: Order `pending_payment` + idempotency
  record. The verified notification then issues everything in ONE transaction (order → paid, policies, cover
  markers, a marker on the WeChat transaction id); if cover cannot be issued by then, the order goes
  `refund_pending` in that transaction and the money is refunded.

Cancellation before benefits start: ONE transaction (policy → cancelled, cover marker deleted, refund record
`refund_pending`, idempotency record), then the refund; a refund that fails stays pending for `reconcile`.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import deps
from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TransientStorageError, TxOp
from chalicelib.domain.disclosure import counted_county
from chalicelib.domain.enrolment_rules import (
    RELATIONSHIP_ZH,
    benefit_start,
    check_eligible,
    check_personal_account_allowed,
    check_plan_open,
)
from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RuleViolation,
    Unauthorized,
    UpstreamUnavailable,
)
from chalicelib.domain.messages import message_for
from chalicelib.domain.order_lifecycle import (
    COVER_ISSUED,
    COVER_RESERVED,
    EXPIRED,
    FAILED,
    PAID,
    PENDING_PAYMENT,
    QUEUED_STATUSES,
    RESERVING_STATUSES,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
    cover_issued,
    refund_transition,
    transition,
)
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson
from chalicelib.services import disclosure, idempotency
from chalicelib.services.family import ID_NUMBER_CONTEXT, find_platform_person, require_identity

ORDER_SCOPE = "orders"
CANCEL_SCOPE = "cancel"
LEASE = timedelta(seconds=60)  # longer than a Lambda invocation (29 s): a live request is never overtaken

# The lifecycle itself (statuses, allowed moves) is the domain's: chalicelib/domain/order_lifecycle.py.
WECHAT_PAY_WINDOW = timedelta(minutes=30)  # an unpaid WeChat order expires (prepay `time_expire`) and is closed
RECONCILED_STATUSES = (SETTLING, REFUND_PENDING)

_PLATFORM = "医保信息平台"


# ==== placing an order ==============================================================================================
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

    def snapshot(self) -> dict[str, Any]:
        """What the order keeps of them (the ID only encrypted; the platform facts that set benefit start)."""
        person = self.person.model_dump(mode="json", exclude={"id_number", "name"}) if self.person else {}
        return {"ref": self.ref, "id_hash": self.id_hash, "id_enc": self.id_enc, "name": self.name,
                "relationship": self.relationship, "member_id": self.member_id, "who": self.who,
                "account_source": self.account_source, "renewal_without_gap": self.renewal_without_gap,
                "benefit_start": self.benefit_start.isoformat(),
                "waiting_rule": self.waiting_rule, "platform": person}


def place_order(table: Table, principal, plan_id: str, insured_refs: list[str], payment_method: str,
                auto_renew: bool, idempotency_key: str, request_hash: str, now: datetime, *, platform=None,
                wechat=None, cipher=None) -> tuple[int, dict[str, Any]]:
    """POST /v1/orders → (status code, order view). All or nothing, exactly once per Idempotency-Key."""
    from chalicelib.plans import get_plan

    platform, cipher = platform or deps.platform(), cipher or deps.cipher()
    plan = get_plan(plan_id)
    _check_request_shape(plan, insured_refs, payment_method, auto_renew)
    account_id = principal.account_id
    scope = f"{account_id}#{ORDER_SCOPE}"
    member_ids = [ref for ref in insured_refs if ref != "self"]
    found = {(i["PK"], i["SK"]): i for i in table.batch_get(
        [keys.account(account_id), keys.idempotency(scope, idempotency_key)]
        + [keys.family_member(account_id, m) for m in dict.fromkeys(member_ids)])}
    previous = found.get(_key_tuple(keys.idempotency(scope, idempotency_key)))
    if previous is not None:
        return _replay_or_resume(table, platform, previous, request_hash, now)
    account = found.get(_key_tuple(keys.account(account_id)))
    if account is None:
        raise Unauthorized("TOKEN_INVALID")
    try:
        order = _validated_order(table, platform, cipher, plan, account, insured_refs, found, payment_method,
                                 auto_renew, scope, idempotency_key, request_hash, now)
    except DomainError:
        # A duplicate of a request that finished while we validated (e.g. its cover markers now exist) must get
        # that request's answer, not a refusal: look at the key once more.
        previous = table.get(keys.idempotency(scope, idempotency_key))
        if previous is not None:
            return _replay_or_resume(table, platform, previous, request_hash, now)
        raise
    if payment_method == "personal_account":
        return _pay_from_personal_account(table, platform, order, now)
    return _order_wechat_pay(table, wechat or deps.wechat_pay(), account, order, now)


def _validated_order(table: Table, platform, cipher, plan: Plan, account: dict[str, Any], insured_refs: list[str],
                     found: dict, payment_method: str, auto_renew: bool, scope: str, idempotency_key: str,
                     request_hash: str, now: datetime) -> dict[str, Any]:
    """Every rule of DOMAIN §2–§4 for every insured, with no write: the order to place, or a refusal."""
    insured = _resolve_insured(account, insured_refs, found)
    today = now.astimezone(CHINA_TZ).date()
    check_plan_open(plan, today)
    covered = _covered(table, plan, insured)
    for person in insured:
        with _about(person):
            person.person = _platform_person(platform, cipher, person.id_enc, person.who)
    payer = None
    if payment_method == "personal_account":
        require_identity(account)
        payer = next((i.person for i in insured if i.relationship is None), None) or _platform_person(
            platform, cipher, account["id_enc"], "您本人")
    for person in insured:
        with _about(person):
            check_eligible(plan, person.person, who=person.who)
            person.renewal_without_gap = bool(plan.previous_plan_id) and cover_issued(
                covered.get(_key_tuple(keys.cover_marker(plan.previous_plan_id, person.id_hash))))
            start = benefit_start(plan, person.person, today, person.renewal_without_gap, who=person.who)
            person.benefit_start, person.waiting_rule = start.benefit_start, start.waiting_rule
            if payment_method == "personal_account":
                person.account_source = check_personal_account_allowed(plan, payer, person.person,
                                                                       person.relationship, who=person.who)
    for person in insured:
        marker = covered.get(_key_tuple(keys.cover_marker(plan.plan_id, person.id_hash)))
        if marker is not None:
            raise _taken(marker, plan, account["account_id"], person.who, person.ref)
    order = _new_order(plan, account, insured, payment_method, auto_renew, scope, idempotency_key, request_hash,
                       now)
    if payment_method == "personal_account":
        _check_relatives_limit(table, plan, account, insured)
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
        method = "医保个人账户" if payment_method == "personal_account" else "微信"
        raise RuleViolation("PAYMENT_METHOD_NOT_OFFERED", field="payment_method", method=method,
                            plan_name=plan.name)
    if auto_renew and payment_method != "personal_account":
        raise RuleViolation("AUTO_RENEW_NEEDS_PERSONAL_ACCOUNT", field="auto_renew")


def _key_tuple(key: dict[str, str]) -> tuple[str, str]:
    return key["PK"], key["SK"]


def _resolve_insured(account: dict[str, Any], refs: list[str], found: dict) -> list[Insured]:
    """`self` = the caller's bound person; member ids = the caller's own family members only (else 404)."""
    insured = []
    for position, ref in enumerate(refs, start=1):
        if ref == "self":
            insured.append(Insured(ref, require_identity(account), account["id_enc"], account.get("person_name", ""),
                                   None, None, "您本人"))
            continue
        item = found.get(_key_tuple(keys.family_member(account["account_id"], ref)))
        if item is None:
            raise NotFound("MEMBER_NOT_FOUND", field="insured", member_id=ref)
        relation = RELATIONSHIP_ZH.get(item["relationship"], "家人")
        insured.append(Insured(ref, item["id_hash"], item["id_enc"], item["name"], item["relationship"], ref,
                               f"您的{relation}(第{position}位被保险人)"))
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


def _covered(table: Table, plan: Plan, insured: list[Insured]) -> dict[tuple[str, str], dict[str, Any]]:
    """One BatchGetItem: the cover markers (issued or reserved) of everyone, in this plan and the previous one
    (renewal without gap)."""
    plan_ids = [plan.plan_id] + ([plan.previous_plan_id] if plan.previous_plan_id else [])
    markers = [keys.cover_marker(p, i.id_hash) for i in insured for p in plan_ids]
    return {_key_tuple(m): m for m in table.batch_get(markers)}


def _taken(marker: dict[str, Any], plan: Plan, account_id: str, who: str, ref: str) -> Conflict:
    """Why a person cannot be ordered for: covered already (or another payer's order holds them) → ALREADY_COVERED;
    the caller's own order in flight → ORDER_IN_FLIGHT naming it, so an unpaid WeChat order can be resumed."""
    if marker.get("state") == COVER_RESERVED and marker.get("payer_account_id") == account_id:
        return Conflict("ORDER_IN_FLIGHT", who=who, plan_name=plan.name, insured=ref, order_id=marker["order_id"],
                        expires_at=marker.get("expires_at"))
    return Conflict("ALREADY_COVERED", who=who, plan_name=plan.name, insured=ref)


def _reservation_ops(order: dict[str, Any], now: datetime) -> list[TxOp]:
    """Per insured: the cover marker `reserved` by this order (refused if anyone holds the person, in any state).
    Written in the transaction that records the order, before any money moves."""
    return [TxOp.put({**keys.cover_marker(order["plan_id"], person["id_hash"]), "state": COVER_RESERVED,
                      "order_id": order["order_id"], "plan_id": order["plan_id"],
                      "payer_account_id": order["payer_account_id"], "expires_at": order.get("expires_at"),
                      "created_at": iso(now)})
            for person in order["insured"]]


def _release_ops(order: dict[str, Any]) -> list[TxOp]:
    """Free the people this order reserved (only while the marker is still this order's reservation)."""
    return [TxOp.delete(keys.cover_marker(order["plan_id"], person["id_hash"]),
                        condition="order_id = :o AND #state = :reserved", names={"#state": "state"},
                        values={":o": order["order_id"], ":reserved": COVER_RESERVED})
            for person in order["insured"]]


def _reservation_refused(table: Table, order: dict[str, Any], reasons: list[str], first: int) -> Conflict | None:
    """After a refused reserving transaction whose cover markers start at position `first`: the 409 for the first
    person someone else holds, or None if no marker was the cause."""
    failed = [n - first for n, r in enumerate(reasons) if r == "ConditionalCheckFailed" and n >= first]
    if not failed:
        return None
    person = order["insured"][failed[0]]
    marker = table.get(keys.cover_marker(order["plan_id"], person["id_hash"])) or {}
    return _taken(marker, _plan(order["plan_id"]), order["payer_account_id"], person["who"], person["ref"])


def _transact_releasing(table: Table, ops: list[TxOp], order: dict[str, Any]) -> None:
    """`ops` (ending an order) together with the release of its reservations, in one transaction. A marker that is
    no longer this order's reservation (already released, or an order from before reservations) is left out and the
    transaction sent again; any other refusal is raised."""
    releases = _release_ops(order)
    try:
        table.transact(ops + releases)
        return
    except ConditionFailed as exc:
        reasons = exc.reasons
        if any(r == "ConditionalCheckFailed" for r in reasons[:len(ops)]) or not reasons:
            raise
        kept = [op for op, r in zip(releases, reasons[len(ops):], strict=False) if r != "ConditionalCheckFailed"]
    table.transact(ops + kept)


def _check_relatives_limit(table: Table, plan: Plan, account: dict[str, Any], insured: list[Insured]) -> None:
    relatives = [i for i in insured if i.account_source == "prior_years"]
    if not relatives or plan.personal_account is None:
        return
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_ACCOUNT]
    index = keys.gsi_account(account["account_id"], f"POLICY#{plan.plan_id}#")
    already = sum(1 for p in table.query_all(pk_name, index[pk_name], index=schema.GSI_BY_ACCOUNT, sk_name=sk_name,
                                             sk_prefix=index[sk_name])
                  if p.get("status") == "active" and p.get("account_source") == "prior_years")
    limit = plan.personal_account.max_relatives_per_payer
    if already + len(relatives) > limit:
        raise RuleViolation("TOO_MANY_RELATIVES", field="insured", limit=limit, already=already,
                            count=len(relatives))


def _check_balances(platform, cipher, account: dict[str, Any], order: dict[str, Any]) -> None:
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    try:
        balances = platform.balances(cipher.decrypt(account["id_enc"], ID_NUMBER_CONTEXT))
    except (PlatformError, PlatformUnavailable):
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=_PLATFORM) from None
    available = {"current": balances.current_fen, "prior_years": balances.prior_years_fen}
    for planned in order["deductions"]:
        if available[planned["source"]] < planned["amount_fen"]:
            raise RuleViolation("INSUFFICIENT_BALANCE", account_source=planned["source"],
                                account_part=_SOURCE_ZH[planned["source"]],
                                needed_yuan=_yuan(planned["amount_fen"]),
                                available_yuan=_yuan(available[planned["source"]]),
                                needed_fen=planned["amount_fen"], available_fen=available[planned["source"]])


_SOURCE_ZH = {"current": "当年", "prior_years": "历年结余"}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def new_order_id(now: datetime) -> str:
    """Time-ordered, unguessable: ORD + yyyymmddHHMMSS + 12 hex."""
    return f"ORD{now.astimezone(CHINA_TZ):%Y%m%d%H%M%S}{uuid.uuid4().hex[:12].upper()}"


def _new_order(plan: Plan, account: dict[str, Any], insured: list[Insured], payment_method: str, auto_renew: bool,
               scope: str, idempotency_key: str, request_hash: str, now: datetime) -> dict[str, Any]:
    order_id = new_order_id(now)
    premium = plan.premium_fen
    order: dict[str, Any] = {
        **keys.order(order_id), "order_id": order_id, "plan_id": plan.plan_id, "payer_account_id": account["account_id"],
        "payer_hash": account.get("person_hash"), "payer_id_enc": account.get("id_enc"),
        "payment_method": payment_method, "premium_fen": premium, "amount_fen": premium * len(insured),
        "auto_renew": auto_renew, "insured": [i.snapshot() for i in insured],
        "policy_ids": [f"POL{order_id[3:]}{n:02d}" for n in range(1, len(insured) + 1)],
        "created_at": iso(now), "updated_at": iso(now), "version": 1,
        "idempotency": {"scope": scope, "key": idempotency_key, "request_hash": request_hash},
        "login_channel": account.get("login_channel"),
    }
    if payment_method == "wechat_pay":
        order["expires_at"] = iso(now + WECHAT_PAY_WINDOW)
    if payment_method == "personal_account":
        # One deduction per part of the account: current balance for self, 历年结余 for relatives.
        by_source: dict[str, int] = {}
        for person in insured:
            by_source[person.account_source] = by_source.get(person.account_source, 0) + premium
        order["deductions"] = [{"key": f"{order_id}-{source}", "source": source, "amount_fen": amount}
                               for source, amount in by_source.items()]
    return order


def _order_queue(order: dict[str, Any], status: str) -> dict[str, str]:
    """The order's work-queue keys while it still needs work (sparse and sharded: keys.work_queue); none after."""
    if status not in QUEUED_STATUSES:
        return {}
    return keys.work_queue("ORDER", status, order["order_id"], f"{order['created_at']}#{order['order_id']}")


def _with_status(order: dict[str, Any], status: str) -> dict[str, Any]:
    return {**order, "status": status, **_order_queue(order, status),
            **keys.gsi_account(order["payer_account_id"], f"ORDER#{order['created_at']}")}


# ---- personal account ---------------------------------------------------------------------------------------------
def _pay_from_personal_account(table: Table, platform, order: dict[str, Any],
                               now: datetime) -> tuple[int, dict[str, Any]]:
    idem = order["idempotency"]
    order = {**_with_status(order, SETTLING), "lease_until": iso(now + LEASE)}
    reservation = {**keys.idempotency(idem["scope"], idem["key"]), "request_hash": idem["request_hash"],
                   "state": "in_progress", "created_at": iso(now), "resource_id": order["order_id"],
                   schema.TTL_ATTRIBUTE: int((now + idempotency.RETENTION).timestamp())}
    try:
        table.transact([TxOp.put(reservation), TxOp.put(order), *_reservation_ops(order, now)])
    except ConditionFailed as exc:
        return _after_reservation_refused(table, platform, order, exc.reasons, now)
    return _settle(table, platform, order, now, deduct=True)


def _after_reservation_refused(table: Table, platform, order: dict[str, Any], reasons: list[str],
                               now: datetime) -> tuple[int, dict[str, Any]]:
    """The transaction reserving key, order and people was refused, so nothing was written and nothing charged:
    a concurrent request with the same key got there first (its answer), or someone holds a person (409)."""
    idem = order["idempotency"]
    if reasons and reasons[0] == "ConditionalCheckFailed" or not reasons:
        previous = table.get(keys.idempotency(idem["scope"], idem["key"]))
        if previous is None:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="数据服务") from None
        return _replay_or_resume(table, platform, previous, idem["request_hash"], now)
    refusal = _reservation_refused(table, order, reasons, first=2)
    if refusal is None:
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="数据服务")
    raise refusal


def _settle(table: Table, platform, order: dict[str, Any], now: datetime, *, deduct: bool) -> tuple[int, dict]:
    """Take (deduct=True) or find (False: a resumed order) every planned deduction, then issue or undo.

    Only the holder of the order's lease calls this. A platform timeout leaves the order `settling`: the outcome
    is unknown and only the platform can tell (find_deduction), so we answer 503 and let the retry or the
    reconciliation ask it.
    """
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    payer_id = deps.cipher().decrypt(order["payer_id_enc"], ID_NUMBER_CONTEXT)
    refusal, refused = None, None
    try:
        for planned in order["deductions"]:
            if deduct:
                try:
                    platform.deduct(payer_id, planned["source"], planned["amount_fen"], planned["key"],
                                    reference=order["order_id"])
                except PlatformError as exc:
                    refusal, refused = exc, planned
                    break
            elif platform.find_deduction(planned["key"]) is None:
                refusal, refused = PlatformError("DEDUCTION_NOT_FOUND"), planned
                break
    except PlatformUnavailable:
        _release_lease(table, order, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order["order_id"]) from None
    if refusal is None:
        return _issue_paid_order(table, platform, order, now)
    error = _refusal_error(refusal.code, refused, order)
    _undo(table, platform, order, now, failure=error.code)
    raise error


def _refusal_error(platform_code: str, planned: dict[str, Any], order: dict[str, Any]) -> DomainError:
    """What the member hears when the platform said no (nothing was taken for this order)."""
    if platform_code == "INSUFFICIENT_BALANCE":  # the balance moved between our check and the deduction
        return RuleViolation("INSUFFICIENT_BALANCE", account_source=planned["source"],
                             account_part=_SOURCE_ZH[planned["source"]], needed_yuan=_yuan(planned["amount_fen"]),
                             available_yuan="不足", order_id=order["order_id"])
    return RuleViolation("PAYMENT_REFUSED", order_id=order["order_id"], platform_code=platform_code)


def _issue_paid_order(table: Table, platform, order: dict[str, Any], now: datetime) -> tuple[int, dict[str, Any]]:
    """ONE transaction: order settling → paid, policies, cover markers, idempotency record completed."""
    idem = order["idempotency"]
    paid = {**_with_status(order, PAID), "paid_at": iso(now), "updated_at": iso(now)}
    view = order_view(paid)
    ops = [_transition(order, SETTLING, PAID, {"paid_at": iso(now)}, now),
           idempotency.completed_op(idem["scope"], idem["key"], idem["request_hash"], now, 201, view,
                                    resource_id=order["order_id"], reserved=True)]
    ops += _policy_ops(order, now, paid_at=now, benefit_starts=None)
    try:
        table.transact(ops)
    except ConditionFailed as exc:
        return _after_issue_refused(table, platform, order, exc.reasons, now)
    except TransientStorageError:
        _release_lease(table, order, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order["order_id"]) from None
    return 201, view


def _after_issue_refused(table: Table, platform, order: dict[str, Any], reasons: list[str],
                         now: datetime) -> tuple[int, dict[str, Any]]:
    """The issuing transaction was refused. Either someone else settled the order (answer what they decided,
    returning our money if they failed it), or a person got covered meanwhile (undo: 409)."""
    failed_at = [n for n, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
    if failed_at and failed_at[0] >= 2:
        position = (failed_at[0] - 2) // 2
        who = order["insured"][position]
        _undo(table, platform, order, now, failure="ALREADY_COVERED")
        plan_name = _plan_name(order["plan_id"])
        raise Conflict("ALREADY_COVERED", who=who["who"], plan_name=plan_name, insured=who["ref"],
                       order_id=order["order_id"])
    current = table.get(keys.order(order["order_id"])) or order
    if current["status"] == PAID:
        return 201, order_view(current)
    if current["status"] == SETTLING:  # only the idempotency record moved (e.g. expired): try again later
        _release_lease(table, current, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order["order_id"])
    if current["status"] == FAILED:  # settled as failed (nothing found) while our deduction was in flight
        _reopen_for_refund(table, current, now)
        _reverse_order_payment(table, platform, {**current, "status": REFUND_PENDING}, now)
    elif current["status"] == REFUNDED:  # settled and reversed already: reversing again is idempotent by key,
        _reverse_deductions(platform, current)  # and returns a deduction that landed after (refunded stays)
    raise RuleViolation("PAYMENT_REFUSED", order_id=order["order_id"])


def _plan(plan_id: str) -> Plan:
    from chalicelib.plans import get_plan

    return get_plan(plan_id)


def _plan_name(plan_id: str) -> str:
    return _plan(plan_id).name


def _undo(table: Table, platform, order: dict[str, Any], now: datetime, failure: str) -> None:
    """Return whatever was deducted (reversal keys derived from the deduction keys), then end the order `failed`
    (nothing taken) or `refunded`, releasing the Idempotency-Key so the member may try again. A reversal that
    times out leaves the order `refund_pending` for the reconciliation — never money without cover."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    idem = order["idempotency"]
    release = TxOp.delete(keys.idempotency(idem["scope"], idem["key"]),
                          condition="#state = :in_progress AND request_hash = :h", names={"#state": "state"},
                          values={":in_progress": "in_progress", ":h": idem["request_hash"]})
    changes: dict[str, Any] = {"failure": failure}
    try:
        reversed_any = _reverse_deductions(platform, order)
        final = REFUNDED if reversed_any else FAILED
    except PlatformUnavailable:
        final = REFUND_PENDING
    except PlatformError as exc:
        final = REFUND_FAILED
        changes["refund_failure"] = exc.code
        _alarm_refund_refused("order", order["order_id"], exc.code)
    try:
        _transact_releasing(table, [_transition(order, SETTLING, final, changes, now), release], order)
    except ConditionFailed:
        pass  # another holder settled it; their outcome stands and our reversal (idempotent) already ran


def _reverse_deductions(platform, order: dict[str, Any]) -> bool:
    """Refund every planned deduction that happened, with keys derived from it. True if any money was returned."""
    from chalicelib.adapters.medical_platform import PlatformError

    reversed_any = False
    for planned in order.get("deductions", []):
        try:
            platform.refund(planned["key"], planned["amount_fen"], f"{planned['key']}-reversal")
            reversed_any = True
        except PlatformError as exc:
            if exc.code != "DEDUCTION_NOT_FOUND":
                raise
    return reversed_any


def _reopen_for_refund(table: Table, order: dict[str, Any], now: datetime) -> None:
    try:
        table.transact([_transition(order, order["status"], REFUND_PENDING, {}, now)])
    except ConditionFailed:
        pass


def _release_lease(table: Table, order: dict[str, Any], now: datetime) -> None:
    """Let the next retry or the reconciliation take over at once (best effort: the lease expires anyway)."""
    try:
        table.update(keys.order(order["order_id"]), "SET lease_until = :now",
                     condition="#status = :settling", names={"#status": "status"},
                     values={":now": iso(now), ":settling": SETTLING})
    except (ConditionFailed, TransientStorageError):
        pass


def _claim_lease(table: Table, order_id: str, status: str, now: datetime) -> dict[str, Any] | None:
    """Hold an order in `status` for LEASE if nobody else does; the updated order, or None."""
    try:
        return table.update(keys.order(order_id), "SET lease_until = :until",
                            condition="#status = :status AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
                            names={"#status": "status"},
                            values={":until": iso(now + LEASE), ":status": status, ":now": iso(now)})
    except ConditionFailed:
        return None


def _replay_or_resume(table: Table, platform, previous: dict[str, Any], request_hash: str,
                      now: datetime) -> tuple[int, dict[str, Any]]:
    """Same key again: the stored answer; or, for an order whose first request gave up or died, finish it."""
    if previous["request_hash"] != request_hash:
        raise Conflict("IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key")
    if previous["state"] == "completed":
        return int(previous["status_code"]), json.loads(previous["response"])
    order_id = previous.get("resource_id")
    claimed = _claim_lease(table, order_id, SETTLING, now) if order_id else None
    if claimed is None:
        raise Conflict("IDEMPOTENCY_IN_FLIGHT", field="Idempotency-Key", resource_id=order_id)
    return _settle(table, platform, claimed, now, deduct=False)


# ---- WeChat Pay ----------------------------------------------------------------------------------------------------
def _order_wechat_pay(table: Table, wechat, account: dict[str, Any], order: dict[str, Any],
                      now: datetime) -> tuple[int, dict[str, Any]]:
    """Reserve (key, order `pending_payment`, the people) in ONE transaction, then the JSAPI prepay with the order's
    expiry, then ONE transaction storing the prepay id and the answer. Nothing can be paid before the people are
    held, so a second order for them is refused before WeChat is asked for anything."""
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    idem = order["idempotency"]
    order = _with_status(order, PENDING_PAYMENT)
    record = {**keys.idempotency(idem["scope"], idem["key"]), "request_hash": idem["request_hash"],
              "state": "in_progress", "created_at": iso(now), "resource_id": order["order_id"],
              schema.TTL_ATTRIBUTE: int((now + idempotency.RETENTION).timestamp())}
    try:
        table.transact([TxOp.put(record), TxOp.put(order), *_reservation_ops(order, now)])
    except ConditionFailed as exc:
        return _after_reservation_refused(table, None, order, exc.reasons, now)
    try:
        prepay_id = wechat.prepay_jsapi(order["order_id"], _plan_name(order["plan_id"]), order["amount_fen"],
                                        account.get("openid"),
                                        time_expire=datetime.fromisoformat(order["expires_at"]))
    except (WeChatPayUnavailable, WeChatPayRefused) as exc:
        # Nothing can have been paid without a prepay id reaching the member: end the order, free the people and
        # the key (an orphan prepay at WeChat, if any, expires by its time_expire).
        release = TxOp.delete(keys.idempotency(idem["scope"], idem["key"]),
                              condition="#state = :in_progress AND request_hash = :h", names={"#state": "state"},
                              values={":in_progress": "in_progress", ":h": idem["request_hash"]})
        code = exc.code if isinstance(exc, WeChatPayRefused) else "WECHAT_PAY_UNAVAILABLE"
        try:
            _transact_releasing(table, [_transition(order, PENDING_PAYMENT, FAILED, {"failure": code}, now),
                                        release], order)
        except ConditionFailed:
            pass
        if isinstance(exc, WeChatPayRefused):
            raise RuleViolation("WECHAT_PAY_REFUSED", wechat_code=exc.code) from None
        raise UpstreamUnavailable("WECHAT_PAY_UNAVAILABLE") from None
    order = {**order, "wechat": {"prepay_id": prepay_id}}
    view = order_view(order, wechat, sign=True)
    try:
        table.transact([
            TxOp.update_item(keys.order(order["order_id"]), "SET wechat = :w", condition="#status = :pending",
                             names={"#status": "status"},
                             values={":w": order["wechat"], ":pending": PENDING_PAYMENT}),
            idempotency.completed_op(idem["scope"], idem["key"], idem["request_hash"], now, 201, view,
                                     resource_id=order["order_id"], reserved=True)])
    except ConditionFailed:
        previous = table.get(keys.idempotency(idem["scope"], idem["key"]))
        if previous is None:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="数据服务") from None
        return _replay_or_resume(table, None, previous, idem["request_hash"], now)
    return 201, view


@dataclass(frozen=True)
class NotifyAnswer:
    """What /v1/payments/wechat/notify answers: WeChat wants 200 {"code":"SUCCESS"}, or 4xx/5xx with a FAIL body."""

    status: int
    code: str
    message: str = ""

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message} if self.message else {"code": self.code}


def receive_wechat_notification(table: Table, headers: dict[str, str], body: bytes, now: datetime, *,
                                wechat=None) -> NotifyAnswer:
    """Verify, then apply a payment notification exactly once (duplicates answer SUCCESS and change nothing)."""
    from chalicelib.adapters.wechat_pay import NotificationRejected
    from chalicelib.observability import logger

    wechat = wechat or deps.wechat_pay()
    try:
        note = wechat.verify_notification(headers, body)
    except NotificationRejected as exc:
        logger().warning("wechat notification rejected", extra={"reason": exc.reason})
        return NotifyAnswer(401, "FAIL", message_for("WECHAT_NOTIFY_REJECTED", reason=exc.reason))
    mismatch = _notification_mismatch(table, wechat, note)
    if isinstance(mismatch, NotifyAnswer):
        return mismatch
    order = mismatch
    if note.trade_state != "SUCCESS":
        return NotifyAnswer(200, "SUCCESS")  # not paid (yet): the member may try again with the same prepay id
    if order["status"] != PENDING_PAYMENT:
        if order.get("wechat", {}).get("transaction_id") == note.transaction_id:
            return NotifyAnswer(200, "SUCCESS")  # a duplicate: already applied
        if order["status"] in (EXPIRED, FAILED) and not order.get("wechat", {}).get("transaction_id"):
            try:
                _refund_late_payment(table, wechat, order, note, now)
            except TransientStorageError:
                return NotifyAnswer(500, "FAIL", message_for("INTERNAL_ERROR"))  # WeChat retries
            return NotifyAnswer(200, "SUCCESS")
        logger().error("second wechat transaction for a settled order", extra={"order_id": order["order_id"]})
        return NotifyAnswer(409, "FAIL", message_for("WECHAT_NOTIFY_MISMATCH", field="transaction_id"))
    try:
        _apply_wechat_payment(table, wechat, order, note, now)
    except TransientStorageError:
        return NotifyAnswer(500, "FAIL", message_for("INTERNAL_ERROR"))  # WeChat retries
    return NotifyAnswer(200, "SUCCESS")


def _notification_mismatch(table: Table, wechat, note) -> NotifyAnswer | dict[str, Any]:
    """The order the notification is about, or the answer refusing it (appid, mchid, order, amount)."""
    def refuse(status: int, field: str) -> NotifyAnswer:
        from chalicelib.observability import logger

        logger().warning("wechat notification does not match", extra={"field": field})
        return NotifyAnswer(status, "FAIL", message_for("WECHAT_NOTIFY_MISMATCH", field=field))

    if note.appid != wechat.appid:
        return refuse(400, "appid")
    if note.mchid != wechat.mchid:
        return refuse(400, "mchid")
    order = table.get(keys.order(note.out_trade_no))
    if order is None or order["payment_method"] != "wechat_pay":
        return refuse(404, "out_trade_no")
    if note.trade_state == "SUCCESS" and (note.total_fen != order["amount_fen"] or note.currency != "CNY"):
        return refuse(400, "amount")
    return order


def _apply_wechat_payment(table: Table, wechat, order: dict[str, Any], note, now: datetime) -> None:
    """ONE transaction: order pending_payment → paid + policies + cover markers + transaction marker; or, when
    cover can no longer be issued, pending_payment → refund_pending + transaction marker, then the refund."""
    paid_at = datetime.fromisoformat(note.success_time) if note.success_time else now
    marker = TxOp.put({**keys.wechat_transaction(note.transaction_id), "order_id": order["order_id"],
                       "created_at": iso(now)})
    changes = {"paid_at": iso(paid_at), "wechat": {**order.get("wechat", {}), "transaction_id": note.transaction_id}}
    try:
        starts = _benefit_starts_on(order, paid_at.astimezone(CHINA_TZ).date())
    except RuleViolation:
        starts, reason = None, "ORDER_FAILED_CANNOT_START"
    if starts is not None:
        policy_starts = [{"benefit_start": start.isoformat(), "waiting_rule": rule} for start, rule in starts]
        ops = [_transition(order, PENDING_PAYMENT, PAID, {**changes, "policy_starts": policy_starts}, now), marker]
        ops += _policy_ops(order, now, paid_at=paid_at, benefit_starts=starts)
        try:
            table.transact(ops)
            return
        except ConditionFailed as exc:
            failed_at = [n for n, r in enumerate(exc.reasons) if r == "ConditionalCheckFailed"]
            if not failed_at or failed_at[0] < 2:
                return  # the order or the transaction was applied concurrently: a duplicate
            reason = "ORDER_FAILED_ALREADY_COVERED"
    try:
        _transact_releasing(table, [_transition(order, PENDING_PAYMENT, REFUND_PENDING,
                                                {**changes, "failure": reason}, now), marker], order)
    except ConditionFailed:
        return
    _reverse_order_payment(table, None, {**order, **changes, "status": REFUND_PENDING}, now, wechat=wechat)


def _refund_late_payment(table: Table, wechat, order: dict[str, Any], note, now: datetime) -> None:
    """Money for an order that had already ended unpaid (closed at expiry, or failed): no cover is issued (the people
    were freed and may be covered by another order by now). ONE transaction: the order → `refund_pending` with the
    WeChat transaction marker; then the full refund → `refunded`; reported on an ERROR line."""
    from chalicelib.observability import logger

    paid_at = datetime.fromisoformat(note.success_time) if note.success_time else now
    changes = {"paid_at": iso(paid_at), "wechat": {**order.get("wechat", {}), "transaction_id": note.transaction_id}}
    marker = TxOp.put({**keys.wechat_transaction(note.transaction_id), "order_id": order["order_id"],
                       "created_at": iso(now)})
    try:
        table.transact([_transition(order, order["status"], REFUND_PENDING, changes, now), marker])
    except ConditionFailed:
        return  # applied concurrently (a duplicate notification)
    logger().error("wechat payment for a closed order refunded",
                   extra={"order_id": order["order_id"], "status": order["status"]})
    _reverse_order_payment(table, None, {**order, **changes, "status": REFUND_PENDING}, now, wechat=wechat)


def _benefit_starts_on(order: dict[str, Any], paid_on: date) -> list[tuple[date, str]]:
    """Benefit start of every insured for a payment on `paid_on` (DOMAIN §4), from the platform facts kept on the
    order; raises RuleViolation when it could not start before coverage ends (or sales closed)."""
    from chalicelib.plans import get_plan

    plan = get_plan(order["plan_id"])
    out = []
    for person in order["insured"]:
        facts = PlatformPerson.model_validate({**person["platform"], "id_number": "", "name": ""})
        start = benefit_start(plan, facts, paid_on, person["renewal_without_gap"], who=person["who"])
        out.append((start.benefit_start, start.waiting_rule))
    return out


def _reverse_order_payment(table: Table, platform, order: dict[str, Any], now: datetime, *, wechat=None) -> bool:
    """Return the whole payment of a `refund_pending` order and mark it refunded. False if the channel did not
    answer (the order stays refund_pending for the next reconciliation) or refused (the order goes to
    `refund_failed` for an operator, with an alarm; it never blocks the rest of the queue)."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        if order["payment_method"] == "wechat_pay":
            (wechat or deps.wechat_pay()).refund(order["order_id"], f"{order['order_id']}-R", order["amount_fen"],
                                                 order["amount_fen"], reason="未能出单,全额退款")
        else:
            _reverse_deductions(platform, order)
    except (PlatformUnavailable, WeChatPayUnavailable):
        return False
    except (PlatformError, WeChatPayRefused) as exc:
        _alarm_refund_refused("order", order["order_id"], exc.code)
        try:
            table.transact([_transition(order, REFUND_PENDING, REFUND_FAILED, {"refund_failure": exc.code}, now)])
        except ConditionFailed:
            pass
        return False
    try:
        table.transact([_transition(order, REFUND_PENDING, REFUNDED, {"refunded_at": iso(now)}, now)])
    except ConditionFailed:
        pass
    return True


# ---- shared transaction pieces ---------------------------------------------------------------------------------
def _transition(order: dict[str, Any], from_status: str, to_status: str, changes: dict[str, Any],
                now: datetime) -> TxOp:
    """Order `from_status` → `to_status` (moving its GSI3 work-queue entry), conditional on the current status.
    Only a move the domain's lifecycle table allows is ever written."""
    transition(from_status, to_status)
    gsi3 = _order_queue(order, to_status)
    values: dict[str, Any] = {":from": from_status, ":to": to_status, ":now": iso(now), ":one": 1}
    sets = ["#status = :to", "updated_at = :now", "version = version + :one"]
    removes = [] if to_status == SETTLING else ["lease_until"]
    if gsi3:
        values.update({":g3pk": gsi3["GSI3PK"], ":g3sk": gsi3["GSI3SK"]})
        sets += ["GSI3PK = :g3pk", "GSI3SK = :g3sk"]
    else:
        removes += ["GSI3PK", "GSI3SK"]
    names = {"#status": "status"}
    for n, (name, value) in enumerate(changes.items()):
        names[f"#c{n}"] = name
        values[f":c{n}"] = value
        sets.append(f"#c{n} = :c{n}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return TxOp.update_item(keys.order(order["order_id"]), update, condition="#status = :from", names=names,
                            values=values)


def _policy_ops(order: dict[str, Any], now: datetime, paid_at: datetime,
                benefit_starts: list[tuple[date, str]] | None) -> list[TxOp]:
    """Per insured: the Policy and its Cover marker (one policy per person per plan, whoever bought it); then the
    disclosure counters, last (callers read cancellation reasons by position: policy i at 2 + 2i)."""
    from chalicelib.plans import get_plan
    from chalicelib.services.policies import consent_record, renewal_index_keys

    plan = get_plan(order["plan_id"])
    ops = []
    for n, (person, policy_id) in enumerate(zip(order["insured"], order["policy_ids"], strict=True)):
        start, rule = benefit_starts[n] if benefit_starts else (date.fromisoformat(person["benefit_start"]),
                                                                person["waiting_rule"])
        policy = {
            **keys.policy(policy_id), **keys.gsi_person(person["id_hash"], f"POLICY#{plan.plan_id}"),
            **keys.gsi_account(order["payer_account_id"], f"POLICY#{plan.plan_id}#{policy_id}"),
            "policy_id": policy_id, "plan_id": plan.plan_id, "order_id": order["order_id"],
            "insured_hash": person["id_hash"], "insured_name": person["name"], "insured_id_enc": person["id_enc"],
            "insured_member_id": person["member_id"], "payer_account_id": order["payer_account_id"],
            "payer_hash": order.get("payer_hash"), "payment_method": order["payment_method"],
            "account_source": person.get("account_source"), "premium_fen": order["premium_fen"],
            "status": "active", "paid_at": iso(paid_at), "benefit_start": start.isoformat(),
            "coverage_end": plan.coverage_end.isoformat(), "waiting_rule": rule, "auto_renew": order["auto_renew"],
            "ytd_deductible_used_fen": 0, "ytd_eligible_fen": 0, "ytd_paid_fen": 0, "version": 1,
            "created_at": iso(now),
            "county": counted_county(plan, (person.get("platform") or {}).get("county")),  # as disclosed (§8)
        }
        if order["auto_renew"]:
            consenting = {"account_id": order["payer_account_id"], "login_channel": order.get("login_channel")}
            policy["auto_renew_consent"] = consent_record(consenting, person["account_source"], now)
            policy.update(renewal_index_keys(plan.plan_id, order["payer_account_id"], policy_id))
        ops.append(TxOp.put(policy))
        # The person's reservation by this order becomes their cover (an order placed before reservations existed
        # finds no marker; anyone else's marker refuses the whole issuance).
        ops.append(TxOp.put({**keys.cover_marker(plan.plan_id, person["id_hash"]), "state": COVER_ISSUED,
                             "policy_id": policy_id, "order_id": order["order_id"], "plan_id": plan.plan_id,
                             "created_at": iso(now)},
                            condition="attribute_not_exists(PK) OR order_id = :o", values={":o": order["order_id"]}))
    return ops + disclosure.issuance_ops(plan, order)


ORDER_FAILURE_MESSAGES = {"ALREADY_COVERED": "ORDER_FAILED_ALREADY_COVERED",
                          "ORDER_FAILED_ALREADY_COVERED": "ORDER_FAILED_ALREADY_COVERED",
                          "ORDER_FAILED_CANNOT_START": "ORDER_FAILED_CANNOT_START",
                          "ORDER_EXPIRED": "ORDER_EXPIRED"}


# ==== reading orders ===============================================================================================
def order_view(order: dict[str, Any], wechat=None, *, sign: bool = False) -> dict[str, Any]:
    """The order as the payer sees it (API.md). With `sign` (one order asked for, or just placed), the WeChat
    payment parameters of an unpaid order are signed afresh so the member can pay or resume; lists never sign."""
    issued = order["status"] == PAID
    view: dict[str, Any] = {
        "order_id": order["order_id"], "plan_id": order["plan_id"], "status": order["status"],
        "payment_method": order["payment_method"], "amount_fen": order["amount_fen"],
        "premium_fen": order["premium_fen"], "auto_renew": order["auto_renew"], "created_at": order["created_at"],
        "paid_at": order.get("paid_at"),
        "insured": [{"insured": p["ref"], "name": p["name"], "benefit_start": p["benefit_start"],
                     "waiting_rule": p["waiting_rule"], "account_source": p.get("account_source")}
                    for p in order["insured"]],
        "expires_at": order.get("expires_at") if order["status"] == PENDING_PAYMENT else None,
        "policies": [{"policy_id": pid, "insured": p["ref"], "name": p["name"],
                      "benefit_start": start["benefit_start"], "waiting_rule": start["waiting_rule"]}
                     for p, pid, start in zip(order["insured"], order["policy_ids"],
                                              order.get("policy_starts") or order["insured"], strict=True)]
        if issued else [],
    }
    if order.get("failure"):
        message_code = ORDER_FAILURE_MESSAGES.get(order["failure"], "PAYMENT_REFUSED")
        if order["failure"] == "ORDER_EXPIRED" and order["status"] != EXPIRED:  # paid after it was closed
            message_code = "ORDER_PAID_AFTER_CLOSE"
        view["failure"] = {"code": order["failure"], "message": message_for(message_code)}
    prepay_id = order.get("wechat", {}).get("prepay_id")
    if sign and order["status"] == PENDING_PAYMENT and prepay_id:
        view["wechat_pay"] = wechat.jsapi_parameters(prepay_id)
    return view


def get_order(table: Table, principal, order_id: str, *, wechat) -> dict[str, Any]:
    """GET /v1/orders/{id}: the payer's own orders only (404 for anyone else, so ids cannot be probed). An unpaid
    WeChat order comes with freshly signed payment parameters: this is how a member resumes it."""
    order = table.get(keys.order(order_id))
    if order is None or order["payer_account_id"] != principal.account_id:
        raise NotFound("ORDER_NOT_FOUND", order_id=order_id)
    return order_view(order, wechat, sign=True)


def list_orders(table: Table, principal, limit: int = 50) -> list[dict[str, Any]]:
    """GET /v1/orders: the caller's orders, newest first."""
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_ACCOUNT]
    index = keys.gsi_account(principal.account_id, "ORDER#")
    items, _ = table.query(pk_name, index[pk_name], index=schema.GSI_BY_ACCOUNT, sk_name=sk_name,
                           sk_prefix=index[sk_name], forward=False, limit=limit)
    return [order_view(item) for item in items]  # no signing here: one RSA signature per pending order per read


# ==== cancellation =================================================================================================
def cancel_policy(table: Table, principal, policy_id: str, idempotency_key: str, request_hash: str,
                  now: datetime, *, platform=None, wechat=None) -> dict[str, Any]:
    """POST /v1/policies/{id}/cancel: before benefits start, a full refund to the original method; 422 after.
    Only the payer (投保人) may cancel: the insured who did not pay sees the policy but gets 403 NOT_POLICYHOLDER;
    anyone else 404. The family order's other policies stay valid."""
    from chalicelib.plans import get_plan
    from chalicelib.services.access import load_policy

    scope = f"{principal.account_id}#{CANCEL_SCOPE}"
    replay = idempotency.lookup(table, scope, idempotency_key, request_hash)
    if replay is not None:
        return _cancellation_view(table, replay["body"]["policy_id"], replay["body"]["refund_id"])
    policy, roles = load_policy(table, principal, policy_id, need="payer_or_insured")
    if "payer" not in roles:
        raise Forbidden("NOT_POLICYHOLDER", policy_id=policy_id)
    if policy["status"] == "cancelled":
        raise Conflict("POLICY_ALREADY_CANCELLED", policy_id=policy_id)
    if now.astimezone(CHINA_TZ).date() >= date.fromisoformat(policy["benefit_start"]):
        raise RuleViolation("POLICY_ALREADY_STARTED", policy_id=policy_id, benefit_start=policy["benefit_start"])
    order = table.get(keys.order(policy["order_id"]))
    refund_id = f"RF{policy_id[3:]}"
    refund = {**keys.refund(refund_id), **keys.work_queue("REFUND", REFUND_PENDING, refund_id, f"{iso(now)}#{refund_id}"),
              "refund_id": refund_id, "policy_id": policy_id, "order_id": order["order_id"],
              "payment_method": order["payment_method"], "amount_fen": policy["premium_fen"],
              "status": REFUND_PENDING, "created_at": iso(now), "reason": "cancel"}
    if order["payment_method"] == "personal_account":
        refund["deduction_key"] = next(d["key"] for d in order["deductions"]
                                       if d["source"] == policy.get("account_source", d["source"]))
    else:
        refund["order_amount_fen"] = order["amount_fen"]
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
    try:
        table.transact([
            TxOp.update_item(keys.policy(policy_id),
                             f"SET #status = :cancelled, cancelled_at = :now, version = version + :one, "
                             f"auto_renew = :off REMOVE {pk_name}, {sk_name}",
                             condition="#status = :active AND version = :v", names={"#status": "status"},
                             values={":cancelled": "cancelled", ":now": iso(now), ":one": 1, ":off": False,
                                     ":active": "active", ":v": policy["version"]}),
            TxOp.delete(keys.cover_marker(policy["plan_id"], policy["insured_hash"]), condition="policy_id = :p",
                        values={":p": policy_id}),
            TxOp.put(refund),
            idempotency.completed_op(scope, idempotency_key, request_hash, now, 200,
                                     {"policy_id": policy_id, "refund_id": refund_id}),
            disclosure.cancellation_op(get_plan(policy["plan_id"]), policy),
        ])
    except ConditionFailed:
        current = table.get(keys.policy(policy_id)) or policy
        if current["status"] == "cancelled":
            raise Conflict("POLICY_ALREADY_CANCELLED", policy_id=policy_id) from None
        raise Conflict("POLICY_CHANGED_RETRY", policy_id=policy_id) from None
    refund = _execute_refund(table, refund, now, platform=platform, wechat=wechat)
    return _present_cancellation(policy_id, iso(now), refund)


def _alarm_refund_refused(kind: str, entity_id: str, code: str) -> None:
    """An ERROR log line with a stable message: the metric filter behind the refund alarm counts these."""
    from chalicelib.observability import logger

    logger().error("refund refused by the payment channel", extra={"kind": kind, "id": entity_id, "code": code})


def _execute_refund(table: Table, refund: dict[str, Any], now: datetime, *, platform=None,
                    wechat=None) -> dict[str, Any]:
    """Send a pending refund (idempotent by its id) and mark it refunded; unchanged if the channel did not answer;
    `refund_failed` (operators' queue, alarmed) if the channel refused it."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        if refund["payment_method"] == "personal_account":
            (platform or deps.platform()).refund(refund["deduction_key"], refund["amount_fen"], refund["refund_id"])
        else:
            (wechat or deps.wechat_pay()).refund(refund["order_id"], refund["refund_id"], refund["amount_fen"],
                                                 refund["order_amount_fen"], reason="保障开始前退保")
    except (PlatformUnavailable, WeChatPayUnavailable):
        return refund
    except (PlatformError, WeChatPayRefused) as exc:
        _alarm_refund_refused("refund", refund["refund_id"], exc.code)
        queue = keys.work_queue("REFUND", REFUND_FAILED, refund["refund_id"], f"{refund['created_at']}#{refund['refund_id']}")
        try:
            return table.update(keys.refund(refund["refund_id"]),
                                "SET #status = :failed, refund_failure = :code, GSI3PK = :pk, GSI3SK = :sk",
                                condition="#status = :pending", names={"#status": "status"},
                                values={":failed": REFUND_FAILED, ":code": exc.code, ":pk": queue["GSI3PK"],
                                        ":sk": queue["GSI3SK"], ":pending": REFUND_PENDING})
        except ConditionFailed:
            return table.get(keys.refund(refund["refund_id"])) or refund
    try:  # done: out of the work queue
        return table.update(keys.refund(refund["refund_id"]),
                            "SET #status = :done, refunded_at = :now REMOVE GSI3PK, GSI3SK",
                            condition="#status = :pending", names={"#status": "status"},
                            values={":done": REFUNDED, ":now": iso(now), ":pending": REFUND_PENDING})
    except ConditionFailed:
        return table.get(keys.refund(refund["refund_id"])) or refund


def _cancellation_view(table: Table, policy_id: str, refund_id: str) -> dict[str, Any]:
    refund = table.get(keys.refund(refund_id)) or {}
    policy = table.get(keys.policy(policy_id)) or {}
    return _present_cancellation(policy_id, policy.get("cancelled_at"), refund)


def _present_cancellation(policy_id: str, cancelled_at: str | None, refund: dict[str, Any]) -> dict[str, Any]:
    return {"policy_id": policy_id, "status": "cancelled", "cancelled_at": cancelled_at,
            "refund": {"refund_id": refund.get("refund_id"), "amount_fen": refund.get("amount_fen"),
                       "method": refund.get("payment_method"),
                       "status": "refunded" if refund.get("status") == REFUNDED else "pending",
                       "refunded_at": refund.get("refunded_at")}}


# ==== reconciliation ===============================================================================================
def reconcile(table: Table, now: datetime, *, platform=None, wechat=None) -> dict[str, int]:
    """Settle what a failure left behind (scheduled every 10 minutes; also `POST /sandbox/jobs/reconcile`):
    - orders `settling` whose lease expired: issue if every deduction is found at the platform, else undo;
    - WeChat orders `pending_payment` past their expiry: close them at WeChat, then `expired` (people freed);
    - orders `refund_pending`: return the payment;
    - cancellation refunds still pending: send them again.
    Every step is idempotent, so overlapping runs and a member's concurrent retry cannot double anything."""
    platform, wechat = platform or deps.platform(), wechat or deps.wechat_pay()
    counts = {"issued": 0, "failed": 0, "refunded": 0, "still_pending": 0, "refunds_sent": 0, "expired": 0,
              "errors": 0}

    def settle_order(order: dict[str, Any]) -> str:
        claimed = _claim_lease(table, order["order_id"], SETTLING, now)
        if claimed is None:
            return "still_pending"
        try:
            _settle(table, platform, claimed, now, deduct=False)
            return "issued"
        except UpstreamUnavailable:
            return "still_pending"
        except DomainError:
            return "failed"

    def expire_order(order: dict[str, Any]) -> str:
        if _expires_at(order) > now:
            return "still_pending"
        return "expired" if expire_unpaid_order(table, wechat, order, now) else "still_pending"

    def refund_order(order: dict[str, Any]) -> str:
        return "refunded" if _reverse_order_payment(table, platform, order, now, wechat=wechat) else "still_pending"

    def send_refund(refund: dict[str, Any]) -> str:
        done = _execute_refund(table, refund, now, platform=platform, wechat=wechat).get("status") == REFUNDED
        return "refunds_sent" if done else "still_pending"

    for kind, status, step in (("ORDER", SETTLING, settle_order), ("ORDER", PENDING_PAYMENT, expire_order),
                               ("ORDER", REFUND_PENDING, refund_order),
                               ("REFUND", REFUND_PENDING, send_refund)):
        for item in _queue(table, kind, status):
            try:
                counts[step(item)] += 1
            except Exception:  # noqa: BLE001 — one bad item must never stop the queue behind it
                from chalicelib.observability import logger

                counts["errors"] += 1
                logger().exception("reconciliation item failed",
                                   extra={"kind": kind, "id": item.get("order_id") or item.get("refund_id")})
    return counts


def _expires_at(order: dict[str, Any]) -> datetime:
    """When an unpaid WeChat order closes (orders from before expiry existed: the same window from creation)."""
    if order.get("expires_at"):
        return datetime.fromisoformat(order["expires_at"])
    return datetime.fromisoformat(order["created_at"]) + WECHAT_PAY_WINDOW


def expire_unpaid_order(table: Table, wechat, order: dict[str, Any], now: datetime) -> bool:
    """Close an unpaid WeChat order at WeChat (so it can no longer be paid), then ONE transaction: the order
    `pending_payment → expired` (failure ORDER_EXPIRED, out of the work queue) and its people's reservations freed.
    False when WeChat did not answer, or says it was paid (the notification settles it)."""
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        wechat.close_order(order["order_id"])
    except (WeChatPayUnavailable, WeChatPayRefused):
        return False
    try:
        _transact_releasing(table, [_transition(order, PENDING_PAYMENT, EXPIRED, {"failure": "ORDER_EXPIRED",
                                                                                  "closed_at": iso(now)}, now)],
                            order)
    except ConditionFailed:
        return False  # paid (or ended) meanwhile
    return True


def _queue(table: Table, kind: str, status: str):
    pk_name, _ = schema.GSIS[schema.GSI_BY_STATUS]
    queued = [item for partition in keys.work_queue_partitions(kind, status)
              for item in table.query_all(pk_name, partition, index=schema.GSI_BY_STATUS)]
    # GSI reads are eventually consistent: re-read each item strongly before acting on it.
    for item in queued:
        key = keys.order(item["order_id"]) if kind == "ORDER" else keys.refund(item["refund_id"])
        fresh = table.get(key)
        if fresh is not None and fresh.get("status") == status:
            yield fresh
