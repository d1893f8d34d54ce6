"""Disclosure counters ⇄ items (docs/access-patterns.md, Disclosure counter; DOMAIN §8): the read model behind the
public report, and the only code that knows its keys.

    STATS#{plan_id}#{shard} / COUNTY#{county}#CHANNEL#{channel}    (16 shards, keys.disclosure_counter)

The counters move inside the very transactions that issue cover, cancel it and pay a claim (`counter_op` is one of
their items); the op carries no condition of its own, so callers put it last and read cancellation reasons by
position. A reader sums a plan's cells over every shard.
"""
from __future__ import annotations

from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import Table, TxOp
from chalicelib.adapters.repositories.memory import MemoryStore, Write, with_twin
from chalicelib.domain.disclosure import Counts, merge

Cells = dict[tuple[str, str], Counts]


class DisclosureCounters(Protocol):
    def cells(self, plan_id: str) -> Cells: ...

    def add(self, plan_id: str, county: str, channel: str, sharding_id: str, counts: Counts) -> None: ...


def counter_op(plan_id: str, county: str, channel: str, sharding_id: str, counts: Counts) -> TxOp:
    """The transaction item adding `counts` to the (county, channel) cell of the shard `sharding_id` falls in."""
    increments = counts.nonzero()
    values: dict[str, Any] = {":plan": plan_id, ":county": county, ":channel": channel,
                              **{f":{name}": amount for name, amount in increments.items()}}
    update = ("SET plan_id = :plan, county = :county, channel = :channel ADD "
              + ", ".join(f"{name} :{name}" for name in increments))
    return with_twin(TxOp.update_item(keys.disclosure_counter(plan_id, county, channel, sharding_id), update,
                                      values=values),
                     lambda store: _added(store, plan_id, county, channel, counts))


def _added(store: MemoryStore, plan_id: str, county: str, channel: str, counts: Counts) -> Write:
    """counter_op's twin: no condition, so never refused."""
    def write() -> None:
        cells = store.disclosure.setdefault(plan_id, {})
        cells[(county, channel)] = cells.get((county, channel), Counts()) + counts
    return write


class DynamoDisclosureCounters:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    counter_op = staticmethod(counter_op)

    def cells(self, plan_id: str) -> Cells:
        """Every counter cell of a plan, summed over shards (one query per shard partition)."""
        return merge((item["county"], item["channel"], Counts.from_item(item))
                     for partition in keys.disclosure_counter_partitions(plan_id)
                     for item in self.table.query_all(schema.PARTITION_KEY, partition))

    def add(self, plan_id: str, county: str, channel: str, sharding_id: str, counts: Counts) -> None:
        """The same increment on its own (the transactions carry `counter_op` instead)."""
        self.table.transact([counter_op(plan_id, county, channel, sharding_id, counts)])


class InMemoryDisclosureCounters:
    """The twin (tests/contract/test_disclosure_counters.py)."""

    counter_op = staticmethod(counter_op)

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self._lock = self.store.lock
        self._cells: dict[str, Cells] = self.store.disclosure

    def cells(self, plan_id: str) -> Cells:
        with self._lock:
            return {cell: counts for cell, counts in self._cells.get(plan_id, {}).items()}

    def add(self, plan_id: str, county: str, channel: str, sharding_id: str, counts: Counts) -> None:
        self.store.transact([counter_op(plan_id, county, channel, sharding_id, counts)])
