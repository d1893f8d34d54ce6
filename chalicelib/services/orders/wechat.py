"""WeChat Pay, asynchronously: reserve, prepay with an expiry, store; the verified notification issues everything in
ONE transaction; unpaid orders expire (closed at WeChat); money that arrives for an ended order is refunded."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed, TransientStorageError
from chalicelib.adapters.repositories.orders import (
    place_op,
    prepay_op,
    reserve_ops,
    status_op,
    wechat_transaction_op,
)
from chalicelib.domain.enrolment_rules import (
    benefit_start,
)
from chalicelib.domain.errors import (
    RuleViolation,
    UpstreamUnavailable,
)
from chalicelib.domain.messages import message_for, term
from chalicelib.domain.order import Order, OrderPayer
from chalicelib.domain.order_lifecycle import (
    EXPIRED,
    FAILED,
    PAID,
    PENDING_PAYMENT,
    REFUND_PENDING,
)
from chalicelib.domain.platform import PlatformPerson
from chalicelib.services import idempotency
from chalicelib.services.orders.common import (
    WECHAT_PAY_WINDOW,
    _plan_name,
    _policy_ops,
    _reverse_order_payment,
)
from chalicelib.services.orders.personal_account import _after_reservation_refused, _replay_or_resume
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.queries import order_view


def _order_wechat_pay(ports: OrderPorts, payer: OrderPayer, order: Order,
                      now: datetime) -> tuple[int, dict[str, Any]]:
    """Reserve (key, order `pending_payment`, the people) in ONE transaction, then the JSAPI prepay with the order's
    expiry, then ONE transaction storing the prepay id and the answer. Nothing can be paid before the people are
    held, so a second order for them is refused before WeChat is asked for anything."""
    wechat = ports.wechat
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    req = order.request
    order = order.model_copy(update={"status": PENDING_PAYMENT})
    claim = idempotency.in_progress_op(req.scope, req.key, req.request_hash, now, order.order_id)
    try:
        ports.orders.transact([claim, place_op(order), *reserve_ops(order, now)])
    except ConditionFailed as exc:
        return _after_reservation_refused(ports, order, exc.reasons, now)
    try:
        prepay_id = wechat.prepay_jsapi(order.order_id, _plan_name(order.plan_id), order.amount_fen,
                                        payer.openid, time_expire=datetime.fromisoformat(order.pay_before))
    except (WeChatPayUnavailable, WeChatPayRefused) as exc:
        # Nothing can have been paid without a prepay id reaching the member: end the order, free the people and
        # the key (an orphan prepay at WeChat, if any, expires by its time_expire).
        release = idempotency.release_op(req.scope, req.key, req.request_hash)
        code = exc.code if isinstance(exc, WeChatPayRefused) else "WECHAT_PAY_UNAVAILABLE"
        try:
            ports.orders.end_releasing([status_op(order, PENDING_PAYMENT, FAILED, {"failure": code}, now), release],
                                       order)
        except ConditionFailed:
            pass
        if isinstance(exc, WeChatPayRefused):
            raise RuleViolation("WECHAT_PAY_REFUSED", wechat_code=exc.code) from None
        raise UpstreamUnavailable("WECHAT_PAY_UNAVAILABLE") from None
    order = order.model_copy(update={"wechat": {"prepay_id": prepay_id}})
    view = order_view(order, wechat, sign=True)
    try:
        ports.orders.transact([
            prepay_op(order.order_id, order.wechat),
            idempotency.completed_op(req.scope, req.key, req.request_hash, now, 201, view,
                                     resource_id=order.order_id, reserved=True)])
    except ConditionFailed:
        previous = ports.orders.request_record(req.scope, req.key)
        if previous is None:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_DATA")) from None
        return _replay_or_resume(ports, previous, req.request_hash, now)
    return 201, view


@dataclass(frozen=True)
class NotifyAnswer:
    """What /v1/payments/wechat/notify answers: WeChat wants 200 {"code":"SUCCESS"}, or 4xx/5xx with a FAIL body."""

    status: int
    code: str
    message: str = ""

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message} if self.message else {"code": self.code}


def receive_wechat_notification(ports: OrderPorts, headers: dict[str, str], body: bytes,
                                now: datetime) -> NotifyAnswer:
    """Verify, then apply a payment notification exactly once (duplicates answer SUCCESS and change nothing)."""
    from chalicelib.adapters.wechat_pay import NotificationRejected
    from chalicelib.observability import logger

    wechat = ports.wechat
    try:
        note = wechat.verify_notification(headers, body)
    except NotificationRejected as exc:
        logger().warning("wechat notification rejected", extra={"reason": exc.reason})
        return NotifyAnswer(401, "FAIL", message_for("WECHAT_NOTIFY_REJECTED", reason=exc.reason))
    mismatch = _notification_mismatch(ports, note)
    if isinstance(mismatch, NotifyAnswer):
        return mismatch
    order = mismatch
    if note.trade_state != "SUCCESS":
        return NotifyAnswer(200, "SUCCESS")  # not paid (yet): the member may try again with the same prepay id
    if order.status != PENDING_PAYMENT:
        if order.wechat_transaction_id == note.transaction_id:
            return NotifyAnswer(200, "SUCCESS")  # a duplicate: already applied
        if order.status in (EXPIRED, FAILED) and not order.wechat_transaction_id:
            try:
                _refund_late_payment(ports, order, note, now)
            except TransientStorageError:
                return NotifyAnswer(500, "FAIL", message_for("INTERNAL_ERROR"))  # WeChat retries
            return NotifyAnswer(200, "SUCCESS")
        logger().error("second wechat transaction for a settled order", extra={"order_id": order.order_id})
        return NotifyAnswer(409, "FAIL", message_for("WECHAT_NOTIFY_MISMATCH", field="transaction_id"))
    try:
        _apply_wechat_payment(ports, order, note, now)
    except TransientStorageError:
        return NotifyAnswer(500, "FAIL", message_for("INTERNAL_ERROR"))  # WeChat retries
    return NotifyAnswer(200, "SUCCESS")


def _notification_mismatch(ports: OrderPorts, note) -> NotifyAnswer | Order:
    """The order the notification is about, or the answer refusing it (appid, mchid, order, amount)."""
    def refuse(status: int, field: str) -> NotifyAnswer:
        from chalicelib.observability import logger

        logger().warning("wechat notification does not match", extra={"field": field})
        return NotifyAnswer(status, "FAIL", message_for("WECHAT_NOTIFY_MISMATCH", field=field))

    if note.appid != ports.wechat.appid:
        return refuse(400, "appid")
    if note.mchid != ports.wechat.mchid:
        return refuse(400, "mchid")
    order = ports.orders.get(note.out_trade_no)
    if order is None or order.payment_method != "wechat_pay":
        return refuse(404, "out_trade_no")
    if note.trade_state == "SUCCESS" and (note.total_fen != order.amount_fen or note.currency != "CNY"):
        return refuse(400, "amount")
    return order


def _apply_wechat_payment(ports: OrderPorts, order: Order, note, now: datetime) -> None:
    """ONE transaction: order pending_payment → paid + policies + cover markers + transaction marker; or, when
    cover can no longer be issued, pending_payment → refund_pending + transaction marker, then the refund."""
    paid_at = datetime.fromisoformat(note.success_time) if note.success_time else now
    marker = wechat_transaction_op(note.transaction_id, order.order_id, now)
    changes = {"paid_at": iso(paid_at), "wechat": {**order.wechat, "transaction_id": note.transaction_id}}
    try:
        starts = _benefit_starts_on(order, paid_at.astimezone(CHINA_TZ).date())
    except RuleViolation:
        starts, reason = None, "ORDER_FAILED_CANNOT_START"
    if starts is not None:
        policy_starts = [{"benefit_start": start.isoformat(), "waiting_rule": rule} for start, rule in starts]
        ops = [status_op(order, PENDING_PAYMENT, PAID, {**changes, "policy_starts": policy_starts}, now), marker]
        ops += _policy_ops(order, now, paid_at=paid_at, benefit_starts=starts)
        try:
            ports.orders.transact(ops)
            return
        except ConditionFailed as exc:
            failed_at = [n for n, r in enumerate(exc.reasons) if r == "ConditionalCheckFailed"]
            if not failed_at or failed_at[0] < 2:
                return  # the order or the transaction was applied concurrently: a duplicate
            reason = "ORDER_FAILED_ALREADY_COVERED"
    try:
        ports.orders.end_releasing([status_op(order, PENDING_PAYMENT, REFUND_PENDING, {**changes, "failure": reason},
                                              now), marker], order)
    except ConditionFailed:
        return
    _reverse_order_payment(ports, order.model_copy(update={**changes, "status": REFUND_PENDING}), now)


def _refund_late_payment(ports: OrderPorts, order: Order, note, now: datetime) -> None:
    """Money for an order that had already ended unpaid (closed at expiry, or failed): no cover is issued (the people
    were freed and may be covered by another order by now). ONE transaction: the order → `refund_pending` with the
    WeChat transaction marker; then the full refund → `refunded`; reported on an ERROR line."""
    from chalicelib.observability import logger

    paid_at = datetime.fromisoformat(note.success_time) if note.success_time else now
    changes = {"paid_at": iso(paid_at), "wechat": {**order.wechat, "transaction_id": note.transaction_id}}
    marker = wechat_transaction_op(note.transaction_id, order.order_id, now)
    try:
        ports.orders.transact([status_op(order, order.status, REFUND_PENDING, changes, now), marker])
    except ConditionFailed:
        return  # applied concurrently (a duplicate notification)
    logger().error("wechat payment for a closed order refunded",
                   extra={"order_id": order.order_id, "status": order.status})
    _reverse_order_payment(ports, order.model_copy(update={**changes, "status": REFUND_PENDING}), now)


def _benefit_starts_on(order: Order, paid_on: date) -> list[tuple[date, str]]:
    """Benefit start of every insured for a payment on `paid_on` (DOMAIN §4), from the platform facts kept on the
    order; raises RuleViolation when it could not start before coverage ends (or sales closed)."""
    from chalicelib.plans import get_plan

    plan = get_plan(order.plan_id)
    out = []
    for person in order.insured:
        facts = PlatformPerson.model_validate({**person.platform, "id_number": "", "name": ""})
        start = benefit_start(plan, facts, paid_on, person.renewal_without_gap, who=person.who)
        out.append((start.benefit_start, start.waiting_rule))
    return out


def _expires_at(order: Order) -> datetime:
    """When an unpaid WeChat order closes (orders from before expiry existed: the same window from creation)."""
    if order.pay_before:
        return datetime.fromisoformat(order.pay_before)
    return datetime.fromisoformat(order.created_at) + WECHAT_PAY_WINDOW


def expire_unpaid_order(ports: OrderPorts, order: Order, now: datetime) -> bool:
    """Close an unpaid WeChat order at WeChat (so it can no longer be paid), then ONE transaction: the order
    `pending_payment → expired` (failure ORDER_EXPIRED, out of the work queue) and its people's reservations freed.
    False when WeChat did not answer, or says it was paid (the notification settles it)."""
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        ports.wechat.close_order(order.order_id)
    except (WeChatPayUnavailable, WeChatPayRefused):
        return False
    try:
        closed = {"failure": "ORDER_EXPIRED", "closed_at": iso(now)}
        ports.orders.end_releasing([status_op(order, PENDING_PAYMENT, EXPIRED, closed, now)], order)
    except ConditionFailed:
        return False  # paid (or ended) meanwhile
    return True
