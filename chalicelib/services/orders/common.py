"""Pieces every order path shares: scopes and timings, why a person cannot be reserved, the issuing operations, and
returning money. Status moves are the repository's (`status_op`, `OrderRepository.move`), checked against the
domain's lifecycle table."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import TxOp
from chalicelib.adapters.repositories.orders import issue_cover_op
from chalicelib.adapters.repositories.policies import PolicyRepository
from chalicelib.domain.disclosure import counted_county
from chalicelib.domain.errors import (
    Conflict,
)
from chalicelib.domain.messages import term
from chalicelib.domain.order import CoverMarker, Order
from chalicelib.domain.order_lifecycle import (
    COVER_ISSUED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
)
from chalicelib.domain.plan import Plan
from chalicelib.domain.policy import Policy
from chalicelib.services import disclosure
from chalicelib.services.orders.ports import OrderPorts

ORDER_SCOPE = "orders"
CANCEL_SCOPE = "cancel"
LEASE = timedelta(seconds=60)  # longer than a Lambda invocation (29 s): a live request is never overtaken
WECHAT_PAY_WINDOW = timedelta(minutes=30)  # an unpaid WeChat order expires (prepay `time_expire`) and is closed
RECONCILED_STATUSES = (SETTLING, REFUND_PENDING)
_PLATFORM = term("SYSTEM_PLATFORM")
# The lifecycle itself (statuses, allowed moves) is the domain's: chalicelib/domain/order_lifecycle.py.


def _taken(marker: CoverMarker | None, plan: Plan, account_id: str, who: str, ref: str) -> Conflict:
    """Why a person cannot be ordered for: covered already (or another payer's order holds them) → ALREADY_COVERED;
    the caller's own order in flight → ORDER_IN_FLIGHT naming it, so an unpaid WeChat order can be resumed."""
    if marker is not None and marker.is_reserved and marker.payer_account_id == account_id:
        return Conflict("ORDER_IN_FLIGHT", who=who, plan_name=plan.name, insured=ref, order_id=marker.order_id,
                        expires_at=marker.pay_before)
    return Conflict("ALREADY_COVERED", who=who, plan_name=plan.name, insured=ref)


def _reservation_refused(ports: OrderPorts, order: Order, reasons: list[str], first: int) -> Conflict | None:
    """After a refused reserving transaction whose cover markers start at position `first`: the 409 for the first
    person someone else holds, or None if no marker was the cause."""
    failed = [n - first for n, r in enumerate(reasons) if r == "ConditionalCheckFailed" and n >= first]
    if not failed:
        return None
    person = order.insured[failed[0]]
    held = (order.plan_id, person.id_hash)
    marker = ports.orders.covers([held]).get(held)
    return _taken(marker, _plan(order.plan_id), order.payer_account_id, person.who, person.ref)


_SOURCE_ZH = {"current": term("ACCOUNT_PART_CURRENT"), "prior_years": term("ACCOUNT_PART_PRIOR_YEARS")}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _plan(plan_id: str) -> Plan:
    from chalicelib.plans import get_plan

    return get_plan(plan_id)


def _plan_name(plan_id: str) -> str:
    return _plan(plan_id).name


def _reverse_deductions(platform, order: Order) -> bool:
    """Refund every planned deduction that happened, with keys derived from it. True if any money was returned."""
    from chalicelib.adapters.medical_platform import PlatformError

    reversed_any = False
    for planned in order.deductions:
        try:
            platform.refund(planned.key, planned.amount_fen, f"{planned.key}-reversal")
            reversed_any = True
        except PlatformError as exc:
            if exc.code != "DEDUCTION_NOT_FOUND":
                raise
    return reversed_any


def _reopen_for_refund(ports: OrderPorts, order: Order, now: datetime) -> None:
    ports.orders.move(order, order.status, REFUND_PENDING, {}, now)


def _reverse_order_payment(ports: OrderPorts, order: Order, now: datetime) -> bool:
    """Return the whole payment of a `refund_pending` order and mark it refunded. False if the channel did not
    answer (the order stays refund_pending for the next reconciliation) or refused (the order goes to
    `refund_failed` for an operator, with an alarm; it never blocks the rest of the queue)."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        if order.payment_method == "wechat_pay":
            ports.wechat.refund(order.order_id, f"{order.order_id}-R", order.amount_fen, order.amount_fen,
                                reason=term("REFUND_NOT_ISSUED"))
        else:
            _reverse_deductions(ports.platform, order)
    except (PlatformUnavailable, WeChatPayUnavailable):
        return False
    except (PlatformError, WeChatPayRefused) as exc:
        _alarm_refund_refused("order", order.order_id, exc.code)
        ports.orders.move(order, REFUND_PENDING, REFUND_FAILED, {"refund_failure": exc.code}, now)
        return False
    ports.orders.move(order, REFUND_PENDING, REFUNDED, {"refunded_at": iso(now)}, now)
    return True


def _policy_ops(order: Order, now: datetime, paid_at: datetime,
                benefit_starts: list[tuple[date, str]] | None) -> list[TxOp]:
    """Per insured: the Policy and its Cover marker (one policy per person per plan, whoever bought it); then the
    disclosure counters, last (callers read cancellation reasons by position: policy i at 2 + 2i)."""
    from chalicelib.plans import get_plan
    from chalicelib.services.renewal_consent import consent_record

    plan = get_plan(order.plan_id)
    ops = []
    for n, (person, policy_id) in enumerate(zip(order.insured, order.policy_ids, strict=True)):
        start, rule = benefit_starts[n] if benefit_starts else (date.fromisoformat(person.benefit_start),
                                                                person.waiting_rule)
        consent = None
        if order.auto_renew:
            consent = consent_record(order.payer_account_id, order.login_channel, person.account_source, now)
        policy = Policy(
            policy_id=policy_id, plan_id=plan.plan_id, order_id=order.order_id, insured_hash=person.id_hash,
            insured_name=person.name, insured_id_enc=person.id_enc, insured_member_id=person.member_id,
            payer_account_id=order.payer_account_id, payer_hash=order.payer_hash,
            payment_method=order.payment_method, account_source=person.account_source,
            premium_fen=order.premium_fen, paid_at=iso(paid_at), benefit_start=start.isoformat(),
            coverage_end=plan.coverage_end.isoformat(), waiting_rule=rule, auto_renew=order.auto_renew,
            auto_renew_consent=consent, created_at=iso(now),
            county=counted_county(plan, person.county))  # as disclosed (§8)
        ops.append(PolicyRepository.issue_op(policy))  # keys, indexes (renewal while consenting) are its
        # The person's reservation by this order becomes their cover (an order placed before reservations existed
        # finds no marker; anyone else's marker refuses the whole issuance).
        ops.append(issue_cover_op(CoverMarker(plan_id=plan.plan_id, state=COVER_ISSUED, policy_id=policy_id,
                                              order_id=order.order_id, created_at=iso(now)), person.id_hash))
    return ops + disclosure.issuance_ops(plan, order)


def _alarm_refund_refused(kind: str, entity_id: str, code: str) -> None:
    """An ERROR log line with a stable message: the metric filter behind the refund alarm counts these."""
    from chalicelib.observability import logger

    logger().error("refund refused by the payment channel", extra={"kind": kind, "id": entity_id, "code": code})
