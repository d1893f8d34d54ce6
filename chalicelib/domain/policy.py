"""A policy (保单): one insured person covered by one plan, bought by one payer. Its fields are named once, here;
the stored attribute names are these names (the claims code reads and writes `ytd_*` and `version` on the same item).
Keys and indexes are the repository's (adapters/repositories/policies.py). Pure: no I/O."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.renewal import RenewalRecord

PolicyStatus = Literal["active", "cancelled"]


class Policy(BaseModel):
    # Attributes other code keeps on the item (claims, renewal) pass through unchanged.
    model_config = ConfigDict(extra="allow")

    policy_id: str
    plan_id: str
    order_id: str
    insured_hash: str  # keyed hash of the insured's ID number
    insured_name: str
    insured_id_enc: str  # the ID number, encrypted
    insured_member_id: str | None = None  # the payer's family member id, None when the payer insured themself
    payer_account_id: str
    payer_hash: str | None = None
    payment_method: str
    account_source: Literal["current", "prior_years"] | None = None  # personal account part that paid
    premium_fen: int
    status: PolicyStatus = "active"
    paid_at: str
    benefit_start: str  # ISO date (DOMAIN §4)
    coverage_end: str
    waiting_rule: str
    auto_renew: bool = False
    auto_renew_consent: dict[str, Any] | None = None
    ytd_deductible_used_fen: int = 0  # year-to-date figures the claims engine keeps
    ytd_eligible_fen: int = 0
    ytd_paid_fen: int = 0
    version: int = 1
    created_at: str
    cancelled_at: str | None = None
    county: str  # the county it is disclosed under (DOMAIN §8)
    # DOMAIN §10.4: a payer (the county government of a subsidised list) took over the premium of this self-paid
    # policy: {batch_id, row, payer_name, payer_county, previous_payment_method, refund_id, at}
    taken_over: dict[str, Any] | None = None
    # DOMAIN §9 auto-renewal (services/renewals.py): the run's record for the next plan, the history of consents,
    # notices, stops and outcomes (for complaint handling), and the last withdrawal of consent {at, channel, account_id}
    renewal: RenewalRecord | None = None
    renewal_history: list[dict[str, Any]] | None = None
    auto_renew_withdrawal: dict[str, Any] | None = None
