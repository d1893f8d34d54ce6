"""The in-memory world the repository twins share, and how it runs a transaction of named operations.

Each named operation a repository builds (`orders.place_op`, `PolicyRepository.cancel_op`, `counter_op`, …) is a
`TwinOp`: the DynamoDB transaction item itself (a TxOp, unchanged for `Table.transact`) plus `prepare`, the same
operation on a `MemoryStore`. `prepare(store)` checks the operation's condition against the store as it is and returns
the write to make (a callable), or None when the condition fails. `MemoryStore.transact` prepares every operation
first, then — only if none was refused — applies every write, all under the store's one lock; a refusal raises the
same `ConditionFailed` as the table, with the same per-position reasons ("ConditionalCheckFailed" / "None").

Why this shape: the services keep composing one transaction from several repositories' operations and sending it
through `OrderRepository.transact` (or its twin) without knowing which world runs it; the condition and its in-memory
check are written side by side, in the repository that names the operation, so they cannot drift apart unnoticed
(tests/contract/test_transactions.py holds both worlds to one contract); and no DynamoDB expression is ever parsed.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from chalicelib.adapters.dynamodb import ConditionFailed, TxOp

Write = Callable[[], None]
Prepare = Callable[["MemoryStore"], Write | None]

CONDITION_FAILED = "ConditionalCheckFailed"
NO_REASON = "None"


@dataclass
class TwinOp(TxOp):
    """A transaction item with its in-memory twin (see the module docstring)."""

    prepare: Prepare | None = field(default=None, repr=False, compare=False)


def with_twin(op: TxOp, prepare: Prepare) -> TwinOp:
    """`op` (as the table sends it) carrying its in-memory twin `prepare`."""
    return TwinOp(**{f.name: getattr(op, f.name) for f in fields(TxOp)}, prepare=prepare)


class MemoryStore:
    """The twins' shared state: one dict per kind of item, behind one (re-entrant) lock that every twin sharing the
    store takes, so a transaction is atomic with respect to the twins' own methods too."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.orders: dict[str, Any] = {}  # order_id → Order
        self.covers: dict[tuple[str, str], Any] = {}  # (plan_id, id_hash) → CoverMarker
        self.refunds: dict[str, Any] = {}  # refund_id → Refund
        self.wechat_transactions: dict[str, str] = {}  # transaction_id → order_id
        self.policies: dict[str, Any] = {}  # policy_id → Policy
        self.idempotency: dict[tuple[str, str], Any] = {}  # (scope, key) → IdempotencyRecord
        self.disclosure: dict[str, dict[tuple[str, str], Any]] = {}  # plan_id → (county, channel) → Counts
        self.accounts: dict[str, Any] = {}  # account_id → Account
        self.family_members: dict[tuple[str, str], Any] = {}  # (account_id, member_id) → FamilyMember

    def transact(self, ops: Iterable[TxOp]) -> None:
        """All conditions checked first, then all writes applied, or nothing: ConditionFailed with the reasons by
        position when any condition fails. Two operations on one item are refused (ValueError), as DynamoDB refuses
        them; an operation without a twin is a programming error (TypeError)."""
        ops = list(ops)
        touched = [_key_of(op) for op in ops]
        if len(set(touched)) != len(touched):  # DynamoDB's ValidationException: one operation per item
            raise ValueError("a transaction cannot include more than one operation on one item")
        with self.lock:
            writes: list[Write | None] = []
            for op in ops:
                prepare = getattr(op, "prepare", None)
                if prepare is None:
                    raise TypeError(f"no in-memory twin for this {op.kind} (build it with a repository's named op)")
                writes.append(prepare(self))
            if any(write is None for write in writes):
                raise ConditionFailed([CONDITION_FAILED if write is None else NO_REASON for write in writes])
            for write in writes:
                write()  # type: ignore[misc]


def _key_of(op: TxOp) -> tuple[str, str]:
    key = op.key if op.key is not None else (op.item or {})
    return (str(key.get("PK")), str(key.get("SK")))
