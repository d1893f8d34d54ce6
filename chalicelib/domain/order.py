"""An order (投保订单) and what hangs off it: the insured it covers, the planned personal-account deductions, the
per-(plan, insured) cover marker, and a cancellation refund. Fields are named once, here; statuses and moves are
`domain/order_lifecycle.py`'s. Keys and indexes are the repository's (adapters/repositories/orders.py). Pure."""
from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.account import HoldsBoundPerson
from chalicelib.domain.order_lifecycle import OrderStatus, RefundStatus


class _Stored(BaseModel):
    model_config = ConfigDict(extra="allow")  # attributes another version wrote are kept, not dropped


class OrderInsured(_Stored):
    """One insured as the order snapshotted them: who (no plain ID), how to pay for them, when cover would start."""

    ref: str  # what the client sent: "self" or a member id
    id_hash: str
    id_enc: str
    name: str
    relationship: str | None = None  # None = the payer themself
    member_id: str | None = None
    who: str  # how messages name them, without personal data
    account_source: Literal["current", "prior_years"] | None = None
    renewal_without_gap: bool = False
    benefit_start: str
    waiting_rule: str
    platform: dict[str, Any] = {}  # the 医保 platform facts benefit start depends on (no ID, no name)

    @property
    def county(self) -> str | None:
        """The county the platform registers them in (a policy is disclosed under it, DOMAIN §8)."""
        return (self.platform or {}).get("county")


class PlannedDeduction(_Stored):
    key: str  # the platform's idempotency key: {order_id}-{source}
    source: Literal["current", "prior_years"]
    amount_fen: int


class OrderRequest(NamedTuple):
    """The request that placed an order, as its idempotency record is keyed: same key + same body → its answer."""

    scope: str  # {payer account}#orders (or #renewal)
    key: str  # the Idempotency-Key
    request_hash: str


class Order(_Stored):
    order_id: str
    plan_id: str
    payer_account_id: str
    payer_hash: str | None = None
    payer_id_enc: str | None = None
    payment_method: Literal["personal_account", "wechat_pay"]
    premium_fen: int
    amount_fen: int
    auto_renew: bool = False
    insured: list[OrderInsured]
    policy_ids: list[str]
    status: OrderStatus
    created_at: str
    updated_at: str
    version: int = 1
    idempotency: dict[str, str]  # scope, key, request_hash of the request that placed it
    login_channel: str | None = None
    deductions: list[PlannedDeduction] = []
    lease_until: str | None = None
    pay_before: str | None = None  # WeChat: unpaid past this, it is closed and ends `expired`
    wechat: dict[str, str] = {}  # prepay_id, transaction_id
    paid_at: str | None = None
    policy_starts: list[dict[str, str]] | None = None  # benefit start per policy when it differs from the snapshot
    failure: str | None = None
    refund_failure: str | None = None
    refunded_at: str | None = None
    closed_at: str | None = None
    channel: Literal["renewal"] | None = None  # an auto-renewal's order (services/renewals.py); None: the member's
    renews_policy_id: str | None = None  # renewal: the policy it renews

    @property
    def request(self) -> OrderRequest:
        return OrderRequest(self.idempotency["scope"], self.idempotency["key"], self.idempotency["request_hash"])

    @property
    def prepay_id(self) -> str | None:
        """WeChat: the JSAPI prepay the member pays with (None before the prepay, and for the personal account)."""
        return self.wechat.get("prepay_id")

    @property
    def wechat_transaction_id(self) -> str | None:
        """WeChat: the payment applied to this order (None until a notification is applied)."""
        return self.wechat.get("transaction_id")


CoverState = Literal["reserved", "issued"]


class CoverMarker(_Stored):
    """One person, one plan, one holder: an order in flight (`reserved`) or a policy (`issued`)."""

    plan_id: str
    state: CoverState = "issued"  # markers written before reservations existed carry no state
    order_id: str | None = None
    policy_id: str | None = None
    payer_account_id: str | None = None
    pay_before: str | None = None
    created_at: str | None = None

    @property
    def is_issued(self) -> bool:
        """It stands for a policy, not a reservation (markers from before reservations carry no state: issued)."""
        return self.state == "issued"

    @property
    def is_reserved(self) -> bool:
        return self.state == "reserved"


class Refund(_Stored):
    """A cancellation refund owed to the payer until the channel confirms it."""

    refund_id: str
    policy_id: str
    order_id: str
    payment_method: Literal["personal_account", "wechat_pay"]
    amount_fen: int
    status: RefundStatus
    created_at: str
    reason: str = "cancel"
    deduction_key: str | None = None  # personal account: the deduction it returns money against
    order_amount_fen: int | None = None  # WeChat: the order total the refund is part of
    refund_failure: str | None = None
    refunded_at: str | None = None


class OrderPayer(HoldsBoundPerson, BaseModel):
    """What placing an order reads of the payer's account (the account is the identity code's; only these fields
    reach an order): who pays, the bound person (实名) if any, how they logged in."""

    model_config = ConfigDict(extra="ignore")

    account_id: str
    person_hash: str | None = None  # keyed hash of the bound person's ID number; None until 实名
    id_enc: str | None = None
    person_name: str | None = None
    login_channel: str | None = None
    openid: str | None = None  # WeChat JSAPI payer (mini-program login)


class FamilyMemberRef(BaseModel):
    """A family member as an order may insure them (the member itself is the family code's)."""

    model_config = ConfigDict(extra="ignore")

    member_id: str
    relationship: str
    name: str
    id_hash: str
    id_enc: str


class RecordedRequest(BaseModel):
    """An order request's idempotency record as the payment paths read it (services/idempotency.py writes it):
    `in_progress` while its order is being paid (`resource_id` names the order), `completed` with the answer."""

    model_config = ConfigDict(extra="ignore")

    request_hash: str
    state: Literal["in_progress", "completed"]
    resource_id: str | None = None
    status_code: int | None = None
    response: str | None = None  # the answer's JSON, as first sent
