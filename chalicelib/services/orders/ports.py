"""What the order use cases need from the world, as one bundle built by the composition root (`deps.order_ports`).
Services receive it; they never import `deps`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamodb import Table
from chalicelib.adapters.repositories.orders import OrderRepository
from chalicelib.adapters.repositories.policies import PolicyRepository


@dataclass(frozen=True)
class OrderPorts:
    table: Table
    platform: Any  # adapters.medical_platform.SimulatedPlatform | adapters.medical_platform_http.HttpPlatform
    wechat: Any  # adapters.wechat_pay.WeChatPay
    cipher: Any  # adapters.crypto.FieldCipher
    orders: OrderRepository  # orders, cover markers, refunds (or the in-memory twin)
    policies: PolicyRepository
