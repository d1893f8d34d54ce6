"""What the order use cases need from the world, as one bundle built by the composition root (`deps.order_ports`).
Services receive it; they never import `deps`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamodb import Table
from chalicelib.adapters.repositories.orders import OrderRepository
from chalicelib.adapters.repositories.policies import PolicyRepository

if TYPE_CHECKING:  # annotations only: importing the adapters here would load their libraries on every cold start
    from chalicelib.adapters.crypto import FieldCipher
    from chalicelib.adapters.medical_platform import MedicalPlatform
    from chalicelib.adapters.repositories.accounts import AccountStore
    from chalicelib.adapters.repositories.grants import GrantRepository
    from chalicelib.adapters.repositories.idempotency import IdempotencyStore
    from chalicelib.adapters.wechat_pay import WeChatPay


@dataclass(frozen=True)
class OrderPorts:
    """Also the access rule's ports (services/access.AccessPorts: accounts, policies, grants) for cancellation."""

    table: Table  # what still takes the table: renewals' and the platform reconciliation's own reads
    platform: MedicalPlatform  # the simulator, or HttpPlatform
    wechat: WeChatPay
    cipher: FieldCipher
    orders: OrderRepository  # orders, cover markers, refunds: keys, conditions, named operations (or the twin)
    policies: PolicyRepository
    # Cancellation's reads (who may cancel; a replayed cancellation). Use cases that never cancel are built without.
    accounts: AccountStore | None = None
    grants: GrantRepository | None = None
    idempotency: IdempotencyStore | None = None
