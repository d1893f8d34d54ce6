"""Disclosure counters and the public report (DOMAIN §8, GET /v1/disclosure/{plan_id}).

The counters move inside the very transactions that issue cover, cancel it and pay a claim, so the published
figures can never disagree with the money: a retried order, a duplicate WeChat notification or a replayed payment
is refused by those transactions' own conditions, and the counter update goes with it. The counter ops carry no
condition of their own and come last in each transaction (callers read cancellation reasons by position).

Cells are sharded (adapters/repositories/disclosure.py): the shard comes from the order / policy / claim id, and
every insured of one order shares the order's shard, so a family order touches one item per county — never one item
twice. The ops take the models they count: an Order, a Policy, or what a claim reads of its policy (ClaimPolicy).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import TxOp
from chalicelib.adapters.repositories.disclosure import Cells, DisclosureCounters
from chalicelib.adapters.repositories.disclosure import counter_op as _counter_op
from chalicelib.domain.disclosure import UNRECORDED_CHANNEL, Counts, counted_county, disclosure_figures, merge
from chalicelib.domain.order import Order
from chalicelib.domain.plan import Plan
from chalicelib.domain.policy import Policy


class CountedPolicy(Protocol):
    """Where a policy was counted: its county and channel (a Policy; a claim's ClaimPolicy)."""

    @property
    def county(self) -> str | None: ...

    @property
    def payment_method(self) -> str | None: ...


def issuance_ops(plan: Plan, order: Order) -> list[TxOp]:
    """Cover issued for every insured of a paid order: +1 enrolled and + the premium, per (county, channel)."""
    per_insured = Counts(enrolled=1, premium_fen=order.premium_fen)
    cells = merge((counted_county(plan, person.county), order.payment_method, per_insured)
                  for person in order.insured)
    return [_counter_op(plan.plan_id, county, ch, order.order_id, counts) for (county, ch), counts in cells.items()]


def policy_issued_op(plan: Plan, policy: Policy) -> TxOp:
    """Cover issued without an order (a bulk list's row, DOMAIN §10): +1 enrolled and + the premium, in the policy's
    county and channel, on the policy's shard."""
    counts = Counts(enrolled=1, premium_fen=policy.premium_fen)
    return _counter_op(plan.plan_id, counted_county(plan, policy.county), policy.payment_method, policy.policy_id,
                       counts)


def cancellation_op(plan: Plan, policy: Policy) -> TxOp:
    """A policy cancelled before its benefits start leaves the figures: −1 enrolled, − its premium, +1 cancelled."""
    counts = Counts(enrolled=-1, premium_fen=-policy.premium_fen, cancelled=1)
    return _counter_op(plan.plan_id, counted_county(plan, policy.county), policy.payment_method, policy.policy_id,
                       counts)


def takeover_ops(plan: Plan, policy: Policy, to_channel: str) -> list[TxOp]:
    """A self-paid policy whose premium a payer takes over (DOMAIN §10.4) moves from the channel that paid it to
    the payer's: −1 / − its premium there, +1 / + its premium under `to_channel`, in the same county."""
    county, premium = counted_county(plan, policy.county), policy.premium_fen
    return [_counter_op(plan.plan_id, county, policy.payment_method, policy.policy_id,
                        Counts(enrolled=-1, premium_fen=-premium)),
            _counter_op(plan.plan_id, county, to_channel, policy.policy_id, Counts(enrolled=1, premium_fen=premium))]


def claim_paid_op(plan: Plan, policy: CountedPolicy | None, claim_id: str, paid_fen: int, *,
                  without_application: bool = False) -> TxOp:
    """A claim paid: +1 claim and + the amount, in the county and channel where the policy was counted. A policy
    that does not record its channel (or cannot be read) is still paid (the figures show it as unrecorded, in the
    plan's city, never block the money). A claim created from the settlement feed (免申即享) also counts as paid
    without an application."""
    counts = Counts(claims_paid=1, paid_fen=paid_fen, claims_paid_auto=1 if without_application else 0)
    county = policy.county if policy is not None else None
    channel = (policy.payment_method if policy is not None else None) or UNRECORDED_CHANNEL
    return _counter_op(plan.plan_id, counted_county(plan, county), channel, claim_id, counts)


def read_cells(counters: DisclosureCounters, plan_id: str) -> Cells:
    """Every counter cell of a plan, summed over shards."""
    return counters.cells(plan_id)


def report(counters: DisclosureCounters, plan_id: str, now: datetime) -> dict[str, Any]:
    """GET /v1/disclosure/{plan_id}: the public figures, computed from the counters at the time of asking."""
    from chalicelib.plans import get_plan

    plan = get_plan(plan_id)  # NotFound PLAN_NOT_FOUND
    return disclosure_figures(plan, read_cells(counters, plan.plan_id), iso(now))
