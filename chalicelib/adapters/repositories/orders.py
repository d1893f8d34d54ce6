"""Orders, their cover markers and cancellation refunds ⇄ items (docs/access-patterns.md).

    ORDER#{id} / ORDER           GSI2 ACCOUNT#{payer} / ORDER#{created_at}   (the payer's orders, newest first)
                                 GSI3 ORDER#{status}#{shard} while the status still needs work (sparse, sharded)
    COVER#{plan}#{id_hash} / COVER                                           (reserved by an order, or issued)
    REFUND#{id} / REFUND         GSI3 REFUND#{status}#{shard} while pending or failed
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TransientStorageError, TxOp
from chalicelib.adapters.repositories.memory import MemoryStore, Write, with_twin
from chalicelib.domain.order import CoverMarker, FamilyMemberRef, Order, OrderPayer, RecordedRequest, Refund
from chalicelib.domain.order_lifecycle import (
    COVER_ISSUED,
    COVER_RESERVED,
    QUEUED_STATUSES,
    REFUND_FAILED,
    REFUND_PENDING,
    SETTLING,
    refund_transition,
    transition,
)

_KEY_ATTRIBUTES = frozenset({"PK", "SK", *(name for pair in schema.GSIS.values() for name in pair)})
_QUEUED_REFUNDS = frozenset({REFUND_PENDING, REFUND_FAILED})


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def order_of(item: dict[str, Any]) -> Order:
    """The Order in a stored item (keys and index attributes dropped)."""
    return Order.model_validate(_fields(item))


def asked_day(at: str) -> str:
    """The China day (YYYY-MM-DD) of an ISO timestamp: the platform keeps its statement in China time."""
    from chalicelib.adapters.clock import CHINA_TZ

    return datetime.fromisoformat(at).astimezone(CHINA_TZ).date().isoformat()


def order_ledger_keys(order: Order) -> dict[str, str]:
    """The payment-ledger entry of an order paid from the personal account (none for WeChat Pay)."""
    if order.payment_method != "personal_account":
        return {}
    return keys.gsi_payment_ledger(asked_day(order.created_at), order.order_id, f"ORDER#{order.order_id}")


def refund_ledger_keys(refund: Refund) -> dict[str, str]:
    """The payment-ledger entry of a cancellation refund to the personal account (none for WeChat Pay)."""
    if refund.payment_method != "personal_account":
        return {}
    return keys.gsi_payment_ledger(asked_day(refund.created_at), refund.refund_id, f"REFUND#{refund.refund_id}")


def order_item(order: Order) -> dict[str, Any]:
    """The stored item: the order's fields plus its keys, its payer index entry, its payment-ledger entry
    (personal account) and, while its status still needs work, its work-queue entry."""
    # Unset top-level attributes are not stored; the insured's snapshots keep theirs (readers index them).
    fields = {k: v for k, v in order.model_dump().items() if v is not None}
    item = {**fields, **keys.order(order.order_id),
            **keys.gsi_account(order.payer_account_id, f"ORDER#{order.created_at}")}
    item.update(order_ledger_keys(order))
    item.update(order_queue_keys(order, order.status))
    return item


def refund_of(item: dict[str, Any]) -> Refund:
    return Refund.model_validate(_fields(item))


def refund_item(refund: Refund) -> dict[str, Any]:
    item = {**refund.model_dump(exclude_none=True), **keys.refund(refund.refund_id)}
    item.update(refund_ledger_keys(refund))
    if refund.status in _QUEUED_REFUNDS:
        item.update(keys.work_queue("REFUND", refund.status, refund.refund_id,
                                    f"{refund.created_at}#{refund.refund_id}"))
    return item


def cover_item(marker: CoverMarker, id_hash: str) -> dict[str, Any]:
    return {**marker.model_dump(exclude_none=True), **keys.cover_marker(marker.plan_id, id_hash)}


# ---- named transaction operations and conditional writes (the services' only way to build them) -----------------
def order_queue_keys(order: Order, status: str) -> dict[str, str]:
    """The order's work-queue keys while it still needs work (sparse and sharded: keys.work_queue); none after."""
    if status not in QUEUED_STATUSES:
        return {}
    return keys.work_queue("ORDER", status, order.order_id, f"{order.created_at}#{order.order_id}")


def status_op(order: Order, from_status: str, to_status: str, changes: dict[str, Any], now: datetime) -> TxOp:
    """Order `from_status` → `to_status` (moving its GSI3 work-queue entry), conditional on the current status.
    Only a move the domain's lifecycle table allows is ever written. `changes`: attributes set with the move."""
    transition(from_status, to_status)
    gsi3 = order_queue_keys(order, to_status)
    values: dict[str, Any] = {":from": from_status, ":to": to_status, ":now": iso(now), ":one": 1}
    sets = ["#status = :to", "updated_at = :now", "version = version + :one"]
    removes = [] if to_status == SETTLING else ["lease_until"]
    if gsi3:
        values.update({":g3pk": gsi3["GSI3PK"], ":g3sk": gsi3["GSI3SK"]})
        sets += ["GSI3PK = :g3pk", "GSI3SK = :g3sk"]
    else:
        removes += ["GSI3PK", "GSI3SK"]
    names = {"#status": "status"}
    for n, (name, value) in enumerate(changes.items()):
        names[f"#c{n}"] = name
        values[f":c{n}"] = value
        sets.append(f"#c{n} = :c{n}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return with_twin(TxOp.update_item(keys.order(order.order_id), update, condition="#status = :from", names=names,
                                      values=values),
                     lambda store: _moved_in(store, order.order_id, from_status, to_status, changes, now))


def _moved_in(store: MemoryStore, order_id: str, from_status: str, to_status: str, changes: dict[str, Any],
              now: datetime) -> Write | None:
    """status_op's twin: the write, or None when the order is absent or no longer in `from_status`."""
    current = store.orders.get(order_id)
    if current is None or current.status != from_status:
        return None
    update = {**changes, "status": to_status, "updated_at": iso(now), "version": current.version + 1}
    if to_status != SETTLING:
        update["lease_until"] = None
    moved = Order.model_validate({**current.model_dump(), **update})

    def write() -> None:
        store.orders[order_id] = moved
    return write


def _put_new(table: dict[Any, Any], key: Any, value: Any) -> Write | None:
    """A put refused if the key exists (attribute_not_exists(PK))."""
    if key in table:
        return None

    def write() -> None:
        table[key] = value
    return write


def _delete(table: dict[Any, Any], key: Any) -> Write:
    def write() -> None:
        table.pop(key, None)
    return write


def reserve_ops(order: Order, now: datetime) -> list[TxOp]:
    """Per insured: the cover marker `reserved` by this order (refused if anyone holds the person, in any state).
    Written in the transaction that records the order, before any money moves."""
    marker = CoverMarker(plan_id=order.plan_id, state=COVER_RESERVED, order_id=order.order_id,
                         payer_account_id=order.payer_account_id, pay_before=order.pay_before, created_at=iso(now))
    return [with_twin(TxOp.put(cover_item(marker, person.id_hash)),
                      lambda store, who=person.id_hash: _put_new(store.covers, (marker.plan_id, who),
                                                                 marker.model_copy(deep=True)))
            for person in order.insured]


def release_ops(order: Order) -> list[TxOp]:
    """Free the people this order reserved (only while the marker is still this order's reservation)."""
    def released(store: MemoryStore, who: str) -> Write | None:
        marker = store.covers.get((order.plan_id, who))
        if marker is None or marker.order_id != order.order_id or marker.state != COVER_RESERVED:
            return None
        return _delete(store.covers, (order.plan_id, who))

    return [with_twin(TxOp.delete(keys.cover_marker(order.plan_id, person.id_hash),
                                  condition="order_id = :o AND #state = :reserved", names={"#state": "state"},
                                  values={":o": order.order_id, ":reserved": COVER_RESERVED}),
                      lambda store, who=person.id_hash: released(store, who))
            for person in order.insured]


def place_op(order: Order) -> TxOp:
    """The transaction item that records a new order (refused if its id exists), with its index entries."""
    stored = Order.model_validate(order.model_dump())
    return with_twin(TxOp.put(order_item(order)), lambda store: _put_new(store.orders, order.order_id, stored))


def issue_cover_op(marker: CoverMarker, id_hash: str) -> TxOp:
    """The person's cover marker becomes `issued` for a policy: over this order's own reservation (or none, for an
    order placed before reservations existed); anyone else's marker refuses the whole issuance."""
    issued = marker.model_copy(update={"state": COVER_ISSUED}, deep=True)

    def issue(store: MemoryStore) -> Write | None:
        current = store.covers.get((issued.plan_id, id_hash))
        if current is not None and current.order_id != issued.order_id:
            return None

        def write() -> None:
            store.covers[(issued.plan_id, id_hash)] = issued
        return write

    return with_twin(TxOp.put(cover_item(issued, id_hash), condition="attribute_not_exists(PK) OR order_id = :o",
                              values={":o": marker.order_id}), issue)


def free_cover_op(plan_id: str, id_hash: str, policy_id: str) -> TxOp:
    """A cancelled policy frees its person (only while the marker is still that policy's)."""
    def free(store: MemoryStore) -> Write | None:
        current = store.covers.get((plan_id, id_hash))
        if current is None or current.policy_id != policy_id:
            return None
        return _delete(store.covers, (plan_id, id_hash))

    return with_twin(TxOp.delete(keys.cover_marker(plan_id, id_hash), condition="policy_id = :p",
                                 values={":p": policy_id}), free)


def new_refund_op(refund: Refund) -> TxOp:
    """The transaction item that records a refund owed (refused if its id exists: one refund per policy)."""
    stored = refund.model_copy(deep=True)
    return with_twin(TxOp.put(refund_item(refund)), lambda store: _put_new(store.refunds, refund.refund_id, stored))


def wechat_transaction_op(transaction_id: str, order_id: str, now: datetime) -> TxOp:
    """The WeChat transaction marker: one payment notification is applied once, whichever container gets it."""
    return with_twin(TxOp.put({**keys.wechat_transaction(transaction_id), "order_id": order_id, "created_at": iso(now)}),
                     lambda store: _put_new(store.wechat_transactions, transaction_id, order_id))


def prepay_op(order_id: str, wechat: dict[str, str]) -> TxOp:
    """Record the prepay (its id, the time it expires) on an order still awaiting payment."""
    def record(store: MemoryStore) -> Write | None:
        current = store.orders.get(order_id)
        if current is None or current.status != "pending_payment":
            return None

        def write() -> None:
            store.orders[order_id] = current.model_copy(update={"wechat": dict(wechat)}, deep=True)
        return write

    return with_twin(TxOp.update_item(keys.order(order_id), "SET wechat = :w", condition="#status = :pending",
                                      names={"#status": "status"},
                                      values={":w": wechat, ":pending": "pending_payment"}), record)


def _refund_move(refund: Refund, to_status: str, changes: dict[str, Any]) -> tuple[Refund, dict[str, Any]]:
    """The refund after the move (the lifecycle refuses any move its table lacks) and its GSI3 entry."""
    refund_transition(refund.status, to_status)
    moved = refund.model_copy(update={**changes, "status": to_status})
    return moved, {k: v for k, v in refund_item(moved).items() if k.startswith("GSI3")}


def claim_lease(table: Table, order_id: str, status: str, now: datetime, lease: timedelta) -> Order | None:
    """Hold an order in `status` for `lease` if nobody else does; the updated order, or None."""
    try:
        return order_of(table.update(
            keys.order(order_id), "SET lease_until = :until",
            condition="#status = :status AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            names={"#status": "status"}, values={":until": iso(now + lease), ":status": status, ":now": iso(now)}))
    except ConditionFailed:
        return None


def release_lease(table: Table, order: Order, now: datetime) -> None:
    """Let the next retry or the reconciliation take over at once (best effort: the lease expires anyway)."""
    try:
        table.update(keys.order(order.order_id), "SET lease_until = :now",
                     condition="#status = :settling", names={"#status": "status"},
                     values={":now": iso(now), ":settling": SETTLING})
    except (ConditionFailed, TransientStorageError):
        pass


def end_releasing(transact: Callable[[list[TxOp]], None], ops: list[TxOp], order: Order) -> None:
    """OrderRepository.end_releasing over a transaction runner (the table's, or the twins' store's)."""
    releases = release_ops(order)
    try:
        transact(ops + releases)
        return
    except ConditionFailed as exc:
        reasons = exc.reasons
        if any(r == "ConditionalCheckFailed" for r in reasons[:len(ops)]) or not reasons:
            raise
        kept = [op for op, r in zip(releases, reasons[len(ops):], strict=False) if r != "ConditionalCheckFailed"]
    transact(ops + kept)


@dataclass
class PlacingReads:
    """What placing an order starts from, read in one BatchGetItem: the payer's account, the idempotency record of
    the request's key (a replay), and the family members the request names (by member id)."""

    payer: OrderPayer | None
    previous: RecordedRequest | None
    members: dict[str, FamilyMemberRef] = field(default_factory=dict)


class OrderRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, order_id: str) -> Order | None:
        item = self.table.get(keys.order(order_id))
        return Order.model_validate(_fields(item)) if item else None

    def save(self, order: Order) -> None:
        self.table.put(order_item(order))

    def claim_lease(self, order_id: str, status: str, now: datetime, lease: timedelta) -> Order | None:
        """Hold an order in `status` for `lease` if nobody else does: the order as held, or None."""
        return claim_lease(self.table, order_id, status, now, lease)

    def release_lease(self, order: Order, now: datetime) -> None:
        """A settling order's lease ends now (best effort), so a retry or the reconciliation may take over."""
        release_lease(self.table, order, now)

    def transact(self, ops: list[TxOp]) -> None:
        """One TransactWriteItems of named operations: this module's, and those of other aggregates (policies,
        idempotency records, disclosure counters) that must change with the order. ConditionFailed carries the
        reasons by position."""
        self.table.transact(ops)

    def move(self, order: Order, from_status: str, to_status: str, changes: dict[str, Any], now: datetime) -> bool:
        """The order `from_status` → `to_status` with `changes` on its own (status_op): False if it is no longer in
        `from_status` (someone else moved it first)."""
        try:
            self.table.transact([status_op(order, from_status, to_status, changes, now)])
        except ConditionFailed:
            return False
        return True

    def end_releasing(self, ops: list[TxOp], order: Order) -> None:
        """`ops` (ending an order: its status move, and what else ends with it) together with the release of its
        reservations, in one transaction. A marker that is no longer this order's reservation (already released, or
        an order from before reservations) is left out and the transaction sent again; any other refusal (one of
        `ops`' conditions) raises ConditionFailed."""
        end_releasing(self.table.transact, ops, order)

    def placing_reads(self, account_id: str, scope: str, idempotency_key: str,
                      member_ids: list[str]) -> PlacingReads:
        """One BatchGetItem: the payer's account, the key's idempotency record, the named family members."""
        wanted = [keys.account(account_id), keys.idempotency(scope, idempotency_key),
                  *(keys.family_member(account_id, m) for m in dict.fromkeys(member_ids))]
        found = {(i["PK"], i["SK"]): i for i in self.table.batch_get(wanted)}

        def at(key: dict[str, str]) -> dict[str, Any] | None:
            return found.get((key["PK"], key["SK"]))

        members = {m: FamilyMemberRef.model_validate({**item, "member_id": m}) for m in member_ids
                   if (item := at(keys.family_member(account_id, m))) is not None}
        account, previous = at(keys.account(account_id)), at(keys.idempotency(scope, idempotency_key))
        return PlacingReads(payer=OrderPayer.model_validate(account) if account is not None else None,
                            previous=RecordedRequest.model_validate(previous) if previous is not None else None,
                            members=members)

    def request_record(self, scope: str, idempotency_key: str) -> RecordedRequest | None:
        """The idempotency record of an order request (services/idempotency.py writes it), read strongly."""
        item = self.table.get(keys.idempotency(scope, idempotency_key))
        return RecordedRequest.model_validate(item) if item is not None else None

    def for_payer(self, account_id: str, limit: int = 50) -> list[Order]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_ACCOUNT]
        index = keys.gsi_account(account_id, "ORDER#")
        items, _ = self.table.query(pk_name, index[pk_name], index=schema.GSI_BY_ACCOUNT, sk_name=sk_name,
                                    sk_prefix=index[sk_name], forward=False, limit=limit)
        return [Order.model_validate(_fields(i)) for i in items]

    def queued(self, status: str) -> Iterator[Order]:
        """Orders in `status` on the work queue, each re-read strongly just before it is yielded (GSI reads are
        eventually consistent) and yielded only if still in that status."""
        pk_name, _ = schema.GSIS[schema.GSI_BY_STATUS]
        found = [item["order_id"] for partition in keys.work_queue_partitions("ORDER", status)
                 for item in self.table.query_all(pk_name, partition, index=schema.GSI_BY_STATUS)]
        for order_id in found:
            order = self.get(order_id)
            if order is not None and order.status == status:
                yield order

    def covers(self, people: list[tuple[str, str]]) -> dict[tuple[str, str], CoverMarker]:
        """One BatchGetItem: the markers of these (plan_id, id_hash) pairs that exist."""
        if not people:
            return {}
        wanted = {(keys.cover_marker(plan, who)["PK"]): (plan, who) for plan, who in people}
        return {wanted[item["PK"]]: CoverMarker.model_validate(_fields(item))
                for item in self.table.batch_get([keys.cover_marker(plan, who) for plan, who in people])}

    def save_cover(self, marker: CoverMarker, id_hash: str) -> None:
        self.table.put(cover_item(marker, id_hash))

    def refund(self, refund_id: str) -> Refund | None:
        item = self.table.get(keys.refund(refund_id))
        return Refund.model_validate(_fields(item)) if item else None

    def save_refund(self, refund: Refund) -> None:
        self.table.put(refund_item(refund))

    def move_refund(self, refund: Refund, to_status: str, changes: dict[str, Any]) -> Refund:
        """`refund` (still in its status) → `to_status` with `changes`, joining or leaving the work queue; when it
        has moved meanwhile, the refund as it is now stored."""
        moved, queue = _refund_move(refund, to_status, changes)
        names = {"#status": "status", **{f"#c{n}": name for n, name in enumerate(changes)}}
        values = {":from": refund.status, ":to": to_status, **{f":c{n}": v for n, v in enumerate(changes.values())}}
        sets = ["#status = :to", *(f"#c{n} = :c{n}" for n in range(len(changes)))]
        gsi_pk, gsi_sk = schema.GSIS[schema.GSI_BY_STATUS]
        if queue:
            values.update({":g3pk": queue[gsi_pk], ":g3sk": queue[gsi_sk]})
            update = "SET " + ", ".join([*sets, f"{gsi_pk} = :g3pk", f"{gsi_sk} = :g3sk"])
        else:
            update = "SET " + ", ".join(sets) + f" REMOVE {gsi_pk}, {gsi_sk}"
        try:
            return refund_of(self.table.update(keys.refund(refund.refund_id), update, condition="#status = :from",
                                               names=names, values=values))
        except ConditionFailed:
            return self.refund(refund.refund_id) or refund

    def asked_on(self, day: str) -> tuple[list[Order], list[Refund]]:
        """The personal-account orders and cancellation refunds whose money we asked the platform to move on `day`
        (China time), read from the payment ledger's shards (GSI1; strongly re-read only by the callers that act)."""
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
        orders, refunds = [], []
        for partition in keys.payment_ledger_partitions(day):
            for item in self.table.query_all(pk_name, partition, index=schema.GSI_BY_PERSON):
                if item[sk_name].startswith("REFUND#"):
                    refunds.append(Refund.model_validate(_fields(item)))
                else:
                    orders.append(Order.model_validate(_fields(item)))
        return (sorted(orders, key=lambda o: o.order_id), sorted(refunds, key=lambda r: r.refund_id))

    def queued_refunds(self, status: str) -> Iterator[Refund]:
        pk_name, _ = schema.GSIS[schema.GSI_BY_STATUS]
        found = [item["refund_id"] for partition in keys.work_queue_partitions("REFUND", status)
                 for item in self.table.query_all(pk_name, partition, index=schema.GSI_BY_STATUS)]
        for refund_id in found:
            refund = self.refund(refund_id)
            if refund is not None and refund.status == status:
                yield refund


class InMemoryOrderRepository:
    """The twin: the same answers from a MemoryStore (tests/contract/test_repositories.py and test_transactions.py
    hold both to one contract). Twins built on one store see each other's writes and share its transactions."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self._lock = self.store.lock
        self._orders: dict[str, Order] = self.store.orders
        self._covers: dict[tuple[str, str], CoverMarker] = self.store.covers
        self._refunds: dict[str, Refund] = self.store.refunds

    def transact(self, ops: list[TxOp]) -> None:
        """The named operations of any twin on this store, atomically (MemoryStore.transact)."""
        self.store.transact(ops)

    def end_releasing(self, ops: list[TxOp], order: Order) -> None:
        end_releasing(self.store.transact, ops, order)

    def placing_reads(self, account_id: str, scope: str, idempotency_key: str,
                      member_ids: list[str]) -> PlacingReads:
        with self._lock:
            account = self.store.accounts.get(account_id)
            members = {m: FamilyMemberRef.model_validate({**member.model_dump(), "member_id": m})
                       for m in member_ids if (member := self.store.family_members.get((account_id, m))) is not None}
        return PlacingReads(payer=OrderPayer.model_validate(account.model_dump()) if account is not None else None,
                            previous=self.request_record(scope, idempotency_key), members=members)

    def request_record(self, scope: str, idempotency_key: str) -> RecordedRequest | None:
        with self._lock:
            record = self.store.idempotency.get((scope, idempotency_key))
        return RecordedRequest.model_validate(record.model_dump()) if record is not None else None

    def get(self, order_id: str) -> Order | None:
        with self._lock:
            order = self._orders.get(order_id)
            return order.model_copy(deep=True) if order else None

    def save(self, order: Order) -> None:
        with self._lock:
            self._orders[order.order_id] = order.model_copy(deep=True)

    def claim_lease(self, order_id: str, status: str, now: datetime, lease: timedelta) -> Order | None:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None or order.status != status or (order.lease_until and order.lease_until > iso(now)):
                return None
            held = order.model_copy(update={"lease_until": iso(now + lease)}, deep=True)
            self._orders[order_id] = held
            return held.model_copy(deep=True)

    def release_lease(self, order: Order, now: datetime) -> None:
        with self._lock:
            current = self._orders.get(order.order_id)
            if current is not None and current.status == SETTLING:
                self._orders[order.order_id] = current.model_copy(update={"lease_until": iso(now)}, deep=True)

    def move(self, order: Order, from_status: str, to_status: str, changes: dict[str, Any], now: datetime) -> bool:
        transition(from_status, to_status)
        with self._lock:
            current = self._orders.get(order.order_id)
            if current is None or current.status != from_status:
                return False
            update = {**changes, "status": to_status, "updated_at": iso(now), "version": current.version + 1}
            if to_status != SETTLING:
                update["lease_until"] = None
            self._orders[order.order_id] = current.model_copy(update=update, deep=True)
            return True

    def for_payer(self, account_id: str, limit: int = 50) -> list[Order]:
        with self._lock:
            mine = [o for o in self._orders.values() if o.payer_account_id == account_id]
        return [o.model_copy(deep=True) for o in sorted(mine, key=lambda o: o.created_at, reverse=True)[:limit]]

    def queued(self, status: str) -> Iterator[Order]:
        if status not in QUEUED_STATUSES:
            return
        with self._lock:
            found = [o.model_copy(deep=True) for o in self._orders.values() if o.status == status]
        yield from found

    def covers(self, people: list[tuple[str, str]]) -> dict[tuple[str, str], CoverMarker]:
        with self._lock:
            return {p: self._covers[p].model_copy(deep=True) for p in people if p in self._covers}

    def save_cover(self, marker: CoverMarker, id_hash: str) -> None:
        with self._lock:
            self._covers[(marker.plan_id, id_hash)] = marker.model_copy(deep=True)

    def refund(self, refund_id: str) -> Refund | None:
        with self._lock:
            refund = self._refunds.get(refund_id)
            return refund.model_copy(deep=True) if refund else None

    def save_refund(self, refund: Refund) -> None:
        with self._lock:
            self._refunds[refund.refund_id] = refund.model_copy(deep=True)

    def move_refund(self, refund: Refund, to_status: str, changes: dict[str, Any]) -> Refund:
        moved, _queue = _refund_move(refund, to_status, changes)
        with self._lock:
            current = self._refunds.get(refund.refund_id)
            if current is None:
                return refund
            if current.status != refund.status:
                return current.model_copy(deep=True)
            stored = current.model_copy(update={**changes, "status": to_status}, deep=True)
            self._refunds[refund.refund_id] = stored
            return stored.model_copy(deep=True)

    def asked_on(self, day: str) -> tuple[list[Order], list[Refund]]:
        with self._lock:
            orders = [o.model_copy(deep=True) for o in self._orders.values()
                      if o.payment_method == "personal_account" and asked_day(o.created_at) == day]
            refunds = [r.model_copy(deep=True) for r in self._refunds.values()
                       if r.payment_method == "personal_account" and asked_day(r.created_at) == day]
        return (sorted(orders, key=lambda o: o.order_id), sorted(refunds, key=lambda r: r.refund_id))

    def queued_refunds(self, status: str) -> Iterator[Refund]:
        if status not in _QUEUED_REFUNDS:
            return
        with self._lock:
            found = [r.model_copy(deep=True) for r in self._refunds.values() if r.status == status]
        yield from found
