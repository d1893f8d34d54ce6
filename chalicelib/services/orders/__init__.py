"""Orders and payments: money taken exactly once, cover exactly when paid (DOMAIN §2–§4, docs/payments.md).

Every person an order covers is **reserved** (their cover marker in state `reserved`) in the transaction that records
the order and its idempotency record, before any deduction or prepay; the reservation becomes the cover on issue and
is released when the order ends any other way. The lifecycle is the domain's table (`domain/order_lifecycle.py`).

Modules, one per use case (each takes an `OrderPorts` bundle):
- `placing`            POST /v1/orders: validation of every rule for every insured, with no write;
- `personal_account`   reserve → deduct → issue (or undo), resumable under a lease;
- `wechat`             reserve → prepay with `time_expire` → store; the notification; expiry; late payments;
- `reconciliation`     the scheduled job settling what failures left behind;
- `cancellation`       POST /v1/policies/{id}/cancel by the payer, and refunds;
- `queries`            GET /v1/orders(/{id});
- `common`             reservations refused, issuing operations, returning money.

Orders, cover markers and refunds are models (`domain/order.py`); their keys, conditions and named transaction
operations are the orders repository's (`adapters/repositories/orders.py`): no module here builds a key.
"""
from __future__ import annotations

from chalicelib.services.orders.cancellation import cancel_policy
from chalicelib.services.orders.common import LEASE, WECHAT_PAY_WINDOW
from chalicelib.services.orders.personal_account import pay_from_personal_account, settle
from chalicelib.services.orders.placing import place_order
from chalicelib.services.orders.ports import OrderPorts
from chalicelib.services.orders.queries import get_order, list_orders, order_view
from chalicelib.services.orders.reconciliation import reconcile
from chalicelib.services.orders.wechat import NotifyAnswer, expire_unpaid_order, receive_wechat_notification

__all__ = ["LEASE", "WECHAT_PAY_WINDOW", "NotifyAnswer", "OrderPorts", "cancel_policy", "expire_unpaid_order",
           "get_order", "list_orders", "order_view", "pay_from_personal_account", "place_order",
           "receive_wechat_notification", "reconcile", "settle"]
