"""Paying from the personal account (医保个人账户), synchronously: reserve key, order and people in ONE transaction,
deduct, then ONE transaction issuing everything — or undo. Resumed by the same key or by `reconcile` under a lease."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed, TransientStorageError, TxOp
from chalicelib.adapters.repositories.orders import place_op, reserve_ops, status_op
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    RuleViolation,
    UpstreamUnavailable,
)
from chalicelib.domain.messages import term
from chalicelib.domain.order import Order, PlannedDeduction, RecordedRequest
from chalicelib.domain.order_lifecycle import (
    FAILED,
    PAID,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
)
from chalicelib.services import idempotency
from chalicelib.services.family import ID_NUMBER_CONTEXT
from chalicelib.services.orders.common import (
    _SOURCE_ZH,
    LEASE,
    _alarm_refund_refused,
    _plan_name,
    _policy_ops,
    _reopen_for_refund,
    _reservation_refused,
    _reverse_deductions,
    _reverse_order_payment,
    _yuan,
)
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.queries import order_view


def pay_from_personal_account(ports: OrderPorts, order: Order, now: datetime) -> tuple[int, dict[str, Any]]:
    """Reserve (key, order `settling` under its lease, the people) in ONE transaction, then deduct and issue."""
    req = order.request
    order = order.model_copy(update={"status": SETTLING, "lease_until": iso(now + LEASE)})
    claim = idempotency.in_progress_op(req.scope, req.key, req.request_hash, now, order.order_id)
    try:
        ports.orders.transact([claim, place_op(order), *reserve_ops(order, now)])
    except ConditionFailed as exc:
        return _after_reservation_refused(ports, order, exc.reasons, now)
    return settle(ports, order, now, deduct=True)


def _after_reservation_refused(ports: OrderPorts, order: Order, reasons: list[str],
                               now: datetime) -> tuple[int, dict[str, Any]]:
    """The transaction reserving key, order and people was refused, so nothing was written and nothing charged:
    a concurrent request with the same key got there first (its answer), or someone holds a person (409)."""
    req = order.request
    if reasons and reasons[0] == "ConditionalCheckFailed" or not reasons:
        previous = ports.orders.request_record(req.scope, req.key)
        if previous is None:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_DATA")) from None
        return _replay_or_resume(ports, previous, req.request_hash, now)
    refusal = _reservation_refused(ports, order, reasons, first=2)
    if refusal is None:
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_DATA"))
    raise refusal


def settle(ports: OrderPorts, order: Order, now: datetime, *, deduct: bool,
           issue_with: tuple[TxOp, ...] = ()) -> tuple[int, dict[str, Any]]:
    """Take (deduct=True) or find (False: a resumed order) every planned deduction, then issue or undo.
    `issue_with`: writes that belong to the issuing transaction (a renewal's old policy records its renewal there).

    Only the holder of the order's lease calls this. A platform timeout leaves the order `settling`: the outcome
    is unknown and only the platform can tell (find_deduction), so we answer 503 and let the retry or the
    reconciliation ask it.
    """
    platform = ports.platform
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    payer_id = ports.cipher.decrypt(order.payer_id_enc, ID_NUMBER_CONTEXT)
    refusal, refused = None, None
    try:
        for planned in order.deductions:
            if deduct:
                try:
                    platform.deduct(payer_id, planned.source, planned.amount_fen, planned.key,
                                    reference=order.order_id)
                except PlatformError as exc:
                    refusal, refused = exc, planned
                    break
            elif platform.find_deduction(planned.key) is None:
                refusal, refused = PlatformError("DEDUCTION_NOT_FOUND"), planned
                break
    except PlatformUnavailable:
        ports.orders.release_lease(order, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order.order_id) from None
    if refusal is None:
        return _issue_paid_order(ports, order, now, issue_with)
    error = _refusal_error(refusal.code, refused, order)
    _undo(ports, order, now, failure=error.code)
    raise error


def _refusal_error(platform_code: str, planned: PlannedDeduction, order: Order) -> DomainError:
    """What the member hears when the platform said no (nothing was taken for this order)."""
    if platform_code == "INSUFFICIENT_BALANCE":  # the balance moved between our check and the deduction
        return RuleViolation("INSUFFICIENT_BALANCE", account_source=planned.source,
                             account_part=_SOURCE_ZH[planned.source], needed_yuan=_yuan(planned.amount_fen),
                             available_yuan=term("AMOUNT_INSUFFICIENT"), order_id=order.order_id)
    return RuleViolation("PAYMENT_REFUSED", order_id=order.order_id, platform_code=platform_code)


def _issue_paid_order(ports: OrderPorts, order: Order, now: datetime,
                      issue_with: tuple[TxOp, ...] = ()) -> tuple[int, dict[str, Any]]:
    """ONE transaction: order settling → paid, policies, cover markers, idempotency record completed (and the
    caller's `issue_with`, last)."""
    req = order.request
    paid = order.model_copy(update={"status": PAID, "paid_at": iso(now), "updated_at": iso(now)})
    view = order_view(paid)
    ops = [status_op(order, SETTLING, PAID, {"paid_at": iso(now)}, now),
           idempotency.completed_op(req.scope, req.key, req.request_hash, now, 201, view,
                                    resource_id=order.order_id, reserved=True)]
    ops += _policy_ops(order, now, paid_at=now, benefit_starts=None)
    ops += issue_with
    try:
        ports.orders.transact(ops)
    except ConditionFailed as exc:
        return _after_issue_refused(ports, order, exc.reasons, now)
    except TransientStorageError:
        ports.orders.release_lease(order, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order.order_id) from None
    return 201, view


def _after_issue_refused(ports: OrderPorts, order: Order, reasons: list[str],
                         now: datetime) -> tuple[int, dict[str, Any]]:
    """The issuing transaction was refused. Either someone else settled the order (answer what they decided,
    returning our money if they failed it), or a person got covered meanwhile (undo: 409)."""
    failed_at = [n for n, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
    if failed_at and 2 <= failed_at[0] < 2 + 2 * len(order.insured):
        who = order.insured[(failed_at[0] - 2) // 2]
        _undo(ports, order, now, failure="ALREADY_COVERED")
        raise Conflict("ALREADY_COVERED", who=who.who, plan_name=_plan_name(order.plan_id), insured=who.ref,
                       order_id=order.order_id)
    current = ports.orders.get(order.order_id) or order
    if current.status == PAID:
        return 201, order_view(current)
    if current.status == SETTLING:  # only the idempotency record moved (e.g. expired): try again later
        ports.orders.release_lease(current, now)
        raise UpstreamUnavailable("PAYMENT_RESULT_PENDING", order_id=order.order_id)
    if current.status == FAILED:  # settled as failed (nothing found) while our deduction was in flight
        _reopen_for_refund(ports, current, now)
        _reverse_order_payment(ports, current.model_copy(update={"status": REFUND_PENDING}), now)
    elif current.status == REFUNDED:  # settled and reversed already: reversing again is idempotent by key,
        _reverse_deductions(ports.platform, current)  # and returns a deduction that landed after (refunded stays)
    raise RuleViolation("PAYMENT_REFUSED", order_id=order.order_id)


def _undo(ports: OrderPorts, order: Order, now: datetime, failure: str) -> None:
    """Return whatever was deducted (reversal keys derived from the deduction keys), then end the order `failed`
    (nothing taken) or `refunded`, releasing the Idempotency-Key so the member may try again. A reversal that
    times out leaves the order `refund_pending` for the reconciliation — never money without cover."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    req = order.request
    release = idempotency.release_op(req.scope, req.key, req.request_hash)
    changes: dict[str, str] = {"failure": failure}
    try:
        reversed_any = _reverse_deductions(ports.platform, order)
        final = REFUNDED if reversed_any else FAILED
    except PlatformUnavailable:
        final = REFUND_PENDING
    except PlatformError as exc:
        final = REFUND_FAILED
        changes["refund_failure"] = exc.code
        _alarm_refund_refused("order", order.order_id, exc.code)
    try:
        ports.orders.end_releasing([status_op(order, SETTLING, final, changes, now), release], order)
    except ConditionFailed:
        pass  # another holder settled it; their outcome stands and our reversal (idempotent) already ran


def _replay_or_resume(ports: OrderPorts, previous: RecordedRequest, request_hash: str,
                      now: datetime) -> tuple[int, dict[str, Any]]:
    """Same key again: the stored answer; or, for an order whose first request gave up or died, finish it."""
    if previous.request_hash != request_hash:
        raise Conflict("IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key")
    if previous.state == "completed":
        return int(previous.status_code), json.loads(previous.response)
    order_id = previous.resource_id
    claimed = ports.orders.claim_lease(order_id, SETTLING, now, LEASE) if order_id else None
    if claimed is None:
        raise Conflict("IDEMPOTENCY_IN_FLIGHT", field="Idempotency-Key", resource_id=order_id)
    return settle(ports, claimed, now, deduct=False)
