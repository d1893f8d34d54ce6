"""Disclosure counters and the public report (DOMAIN §8, GET /v1/disclosure/{plan_id}).

The counters move inside the very transactions that issue cover, cancel it and pay a claim, so the published
figures can never disagree with the money: a retried order, a duplicate WeChat notification or a replayed payment
is refused by those transactions' own conditions, and the counter update goes with it. The counter ops carry no
condition of their own and come last in each transaction (callers read cancellation reasons by position).

Cells are sharded (adapters/repositories/disclosure.py): the shard comes from the order / policy / claim id, and
every insured of one order shares the order's shard, so a family order touches one item per county — never one item
twice. The arguments are the few fields each count needs (`order`: order_id, payment_method, premium_fen and the
insured's platform county; `policy`: policy_id, premium_fen, payment_method, county), as mappings.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import TxOp
from chalicelib.adapters.repositories.disclosure import Cells, DisclosureCounters
from chalicelib.adapters.repositories.disclosure import counter_op as _counter_op
from chalicelib.domain.disclosure import UNRECORDED_CHANNEL, Counts, counted_county, disclosure_figures, merge
from chalicelib.domain.plan import Plan


def issuance_ops(plan: Plan, order: Mapping[str, Any]) -> list[TxOp]:
    """Cover issued for every insured of a paid order: +1 enrolled and + the premium, per (county, channel)."""
    channel = order["payment_method"]
    per_insured = Counts(enrolled=1, premium_fen=order["premium_fen"])
    cells = merge((counted_county(plan, (person.get("platform") or {}).get("county")), channel, per_insured)
                  for person in order["insured"])
    return [_counter_op(plan.plan_id, county, ch, order["order_id"], counts) for (county, ch), counts in cells.items()]


def cancellation_op(plan: Plan, policy: Mapping[str, Any]) -> TxOp:
    """A policy cancelled before its benefits start leaves the figures: −1 enrolled, − its premium, +1 cancelled."""
    counts = Counts(enrolled=-1, premium_fen=-int(policy["premium_fen"]), cancelled=1)
    return _counter_op(plan.plan_id, counted_county(plan, policy.get("county")), policy["payment_method"],
                       policy["policy_id"], counts)


def takeover_ops(plan: Plan, policy: Mapping[str, Any], to_channel: str) -> list[TxOp]:
    """A self-paid policy whose premium a payer takes over (DOMAIN §10.4) moves from the channel that paid it to
    the payer's: −1 / − its premium there, +1 / + its premium under `to_channel`, in the same county."""
    county, premium = counted_county(plan, policy.get("county")), int(policy["premium_fen"])
    return [_counter_op(plan.plan_id, county, policy["payment_method"], policy["policy_id"],
                        Counts(enrolled=-1, premium_fen=-premium)),
            _counter_op(plan.plan_id, county, to_channel, policy["policy_id"], Counts(enrolled=1, premium_fen=premium))]


def claim_paid_op(plan: Plan, policy: Mapping[str, Any], claim_id: str, paid_fen: int, *,
                  without_application: bool = False) -> TxOp:
    """A claim paid: +1 claim and + the amount, in the county and channel where the policy was counted. A policy
    that does not record its channel is still paid (the figures show it as unrecorded, never block the money).
    A claim created from the settlement feed (免申即享) also counts as paid without an application."""
    counts = Counts(claims_paid=1, paid_fen=paid_fen, claims_paid_auto=1 if without_application else 0)
    channel = policy.get("payment_method") or UNRECORDED_CHANNEL
    return _counter_op(plan.plan_id, counted_county(plan, policy.get("county")), channel, claim_id, counts)


def read_cells(counters: DisclosureCounters, plan_id: str) -> Cells:
    """Every counter cell of a plan, summed over shards."""
    return counters.cells(plan_id)


def report(counters: DisclosureCounters, plan_id: str, now: datetime) -> dict[str, Any]:
    """GET /v1/disclosure/{plan_id}: the public figures, computed from the counters at the time of asking."""
    from chalicelib.plans import get_plan

    plan = get_plan(plan_id)  # NotFound PLAN_NOT_FOUND
    return disclosure_figures(plan, read_cells(counters, plan.plan_id), iso(now))
