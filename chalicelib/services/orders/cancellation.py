"""POST /v1/policies/{id}/cancel: the payer only, before benefits start, ONE transaction, then the refund."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.adapters.repositories.orders import free_cover_op, new_refund_op
from chalicelib.adapters.repositories.policies import PolicyRepository
from chalicelib.domain.errors import (
    Conflict,
    Forbidden,
    RuleViolation,
)
from chalicelib.domain.messages import term
from chalicelib.domain.order import Order, Refund
from chalicelib.domain.order_lifecycle import (
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
)
from chalicelib.domain.policy import Policy
from chalicelib.services import disclosure, idempotency
from chalicelib.services.orders.common import CANCEL_SCOPE, _alarm_refund_refused
from chalicelib.services.orders.ports import OrderPorts


def cancel_policy(ports: OrderPorts, principal, policy_id: str, idempotency_key: str, request_hash: str,
                  now: datetime) -> dict[str, Any]:
    """POST /v1/policies/{id}/cancel: before benefits start, a full refund to the original method; 422 after.
    Only the payer (投保人) may cancel: the insured who did not pay sees the policy but gets 403 NOT_POLICYHOLDER;
    anyone else 404. The family order's other policies stay valid."""
    from chalicelib.plans import get_plan
    from chalicelib.services.access import policy_for

    scope = f"{principal.account_id}#{CANCEL_SCOPE}"
    replay = idempotency.lookup(ports.idempotency, scope, idempotency_key, request_hash)
    if replay is not None:
        return _cancellation_view(ports, replay["body"]["policy_id"], replay["body"]["refund_id"])
    cancelled, roles = policy_for(ports, principal, policy_id, need="payer_or_insured")
    if "payer" not in roles:
        raise Forbidden("NOT_POLICYHOLDER", policy_id=policy_id)
    if cancelled.status == "cancelled":
        raise Conflict("POLICY_ALREADY_CANCELLED", policy_id=policy_id)
    if cancelled.taken_over:  # the government pays it now and the member's payment was returned (DOMAIN §10.4)
        raise Conflict("POLICY_TAKEN_OVER", policy_id=policy_id)
    if now.astimezone(CHINA_TZ).date() >= date.fromisoformat(cancelled.benefit_start):
        raise RuleViolation("POLICY_ALREADY_STARTED", policy_id=policy_id, benefit_start=cancelled.benefit_start)
    order = ports.orders.get(cancelled.order_id)
    refund = pending_refund(cancelled, order, f"RF{policy_id[3:]}", "cancel", now)
    try:
        ports.orders.transact([
            PolicyRepository.cancel_op(cancelled, iso(now)),
            free_cover_op(cancelled.plan_id, cancelled.insured_hash, policy_id),
            new_refund_op(refund),
            idempotency.completed_op(scope, idempotency_key, request_hash, now, 200,
                                     {"policy_id": policy_id, "refund_id": refund.refund_id}),
            disclosure.cancellation_op(get_plan(cancelled.plan_id), cancelled),
        ])
    except ConditionFailed:
        current = ports.policies.get(policy_id) or cancelled
        if current.status == "cancelled":
            raise Conflict("POLICY_ALREADY_CANCELLED", policy_id=policy_id) from None
        raise Conflict("POLICY_CHANGED_RETRY", policy_id=policy_id) from None
    refund = execute_refund(ports, refund, now)
    return _present_cancellation(policy_id, iso(now), refund)


def pending_refund(policy: Policy, order: Order, refund_id: str, reason: str, now: datetime) -> Refund:
    """The refund of one policy's premium, to its order's payment method (in the work queue until the channel
    confirms it: `execute_refund` now, the reconciliation later). Written in the transaction that decides the
    refund (cancellation; a takeover by a subsidised list, DOMAIN §10.4), never on its own."""
    refund = Refund(refund_id=refund_id, policy_id=policy.policy_id, order_id=order.order_id,
                    payment_method=order.payment_method, amount_fen=policy.premium_fen, status=REFUND_PENDING,
                    created_at=iso(now), reason=reason)
    if order.payment_method == "personal_account":
        refund.deduction_key = next(d.key for d in order.deductions
                                    if d.source == (policy.account_source or d.source))
    else:
        refund.order_amount_fen = order.amount_fen
    return refund


# What the payment channel shows the member as the refund's reason, by the refund's `reason`.
REFUND_REASONS = {"cancel": "REFUND_CANCEL", "takeover": "REFUND_TAKEOVER"}  # refund reason → TERMS key


def execute_refund(ports: OrderPorts, refund: Refund, now: datetime) -> Refund:
    """Send a pending refund (idempotent by its id) and mark it refunded; unchanged if the channel did not answer;
    `refund_failed` (operators' queue, alarmed) if the channel refused it."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        if refund.payment_method == "personal_account":
            ports.platform.refund(refund.deduction_key, refund.amount_fen, refund.refund_id)
        else:
            ports.wechat.refund(refund.order_id, refund.refund_id, refund.amount_fen, refund.order_amount_fen,
                                reason=term(REFUND_REASONS.get(refund.reason, "REFUND_CANCEL")))
    except (PlatformUnavailable, WeChatPayUnavailable):
        return refund
    except (PlatformError, WeChatPayRefused) as exc:
        _alarm_refund_refused("refund", refund.refund_id, exc.code)
        return ports.orders.move_refund(refund, REFUND_FAILED, {"refund_failure": exc.code})
    return ports.orders.move_refund(refund, REFUNDED, {"refunded_at": iso(now)})  # done: out of the work queue


def _cancellation_view(ports: OrderPorts, policy_id: str, refund_id: str) -> dict[str, Any]:
    policy = ports.policies.get(policy_id)
    return _present_cancellation(policy_id, policy.cancelled_at if policy else None, ports.orders.refund(refund_id))


def _present_cancellation(policy_id: str, cancelled_at: str | None, refund: Refund | None) -> dict[str, Any]:
    return {"policy_id": policy_id, "status": "cancelled", "cancelled_at": cancelled_at,
            "refund": {"refund_id": refund.refund_id if refund else None,
                       "amount_fen": refund.amount_fen if refund else None,
                       "method": refund.payment_method if refund else None,
                       "status": "refunded" if refund and refund.status == REFUNDED else "pending",
                       "refunded_at": refund.refunded_at if refund else None}}
