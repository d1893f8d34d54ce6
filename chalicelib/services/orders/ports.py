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
    from chalicelib.adapters.wechat_pay import WeChatPay


@dataclass(frozen=True)
class OrderPorts:
    table: Table  # what still takes the table: access/idempotency lookups, renewals, platform reconciliation
    platform: MedicalPlatform  # the simulator, or HttpPlatform
    wechat: WeChatPay
    cipher: FieldCipher
    orders: OrderRepository  # orders, cover markers, refunds: keys, conditions, named operations (or the twin)
    policies: PolicyRepository
