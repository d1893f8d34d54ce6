"""POST /v1/policies/{id}/cancel: the payer only, before benefits start, ONE transaction, then the refund."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.adapters.repositories.orders import refund_ledger_keys
from chalicelib.domain.errors import (
    Conflict,
    Forbidden,
    RuleViolation,
)
from chalicelib.domain.order_lifecycle import (
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
)
from chalicelib.services import disclosure, idempotency
from chalicelib.services.orders.common import CANCEL_SCOPE, _alarm_refund_refused
from chalicelib.services.orders.ports import OrderPorts


def cancel_policy(ports: OrderPorts, principal, policy_id: str, idempotency_key: str, request_hash: str,
                  now: datetime) -> dict[str, Any]:
    """POST /v1/policies/{id}/cancel: before benefits start, a full refund to the original method; 422 after.
    Only the payer (投保人) may cancel: the insured who did not pay sees the policy but gets 403 NOT_POLICYHOLDER;
    anyone else 404. The family order's other policies stay valid."""
    from chalicelib.plans import get_plan
    from chalicelib.services.access import load_policy

    table = ports.table
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
    refund.update(refund_ledger_keys(refund))
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
    refund = _execute_refund(ports, refund, now)
    return _present_cancellation(policy_id, iso(now), refund)


def _execute_refund(ports: OrderPorts, refund: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Send a pending refund (idempotent by its id) and mark it refunded; unchanged if the channel did not answer;
    `refund_failed` (operators' queue, alarmed) if the channel refused it."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.adapters.wechat_pay import WeChatPayRefused, WeChatPayUnavailable

    try:
        if refund["payment_method"] == "personal_account":
            ports.platform.refund(refund["deduction_key"], refund["amount_fen"], refund["refund_id"])
        else:
            ports.wechat.refund(refund["order_id"], refund["refund_id"], refund["amount_fen"],
                                                 refund["order_amount_fen"], reason="保障开始前退保")
    except (PlatformUnavailable, WeChatPayUnavailable):
        return refund
    except (PlatformError, WeChatPayRefused) as exc:
        _alarm_refund_refused("refund", refund["refund_id"], exc.code)
        queue = keys.work_queue("REFUND", REFUND_FAILED, refund["refund_id"], f"{refund['created_at']}#{refund['refund_id']}")
        try:
            return ports.table.update(keys.refund(refund["refund_id"]),
                                "SET #status = :failed, refund_failure = :code, GSI3PK = :pk, GSI3SK = :sk",
                                condition="#status = :pending", names={"#status": "status"},
                                values={":failed": REFUND_FAILED, ":code": exc.code, ":pk": queue["GSI3PK"],
                                        ":sk": queue["GSI3SK"], ":pending": REFUND_PENDING})
        except ConditionFailed:
            return ports.table.get(keys.refund(refund["refund_id"])) or refund
    try:  # done: out of the work queue
        return ports.table.update(keys.refund(refund["refund_id"]),
                            "SET #status = :done, refunded_at = :now REMOVE GSI3PK, GSI3SK",
                            condition="#status = :pending", names={"#status": "status"},
                            values={":done": REFUNDED, ":now": iso(now), ":pending": REFUND_PENDING})
    except ConditionFailed:
        return ports.table.get(keys.refund(refund["refund_id"])) or refund


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
