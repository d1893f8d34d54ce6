"""Bulk-enrolment batches ⇄ items (docs/access-patterns.md, DOMAIN §10). One partition per batch:

    BULK#{batch_id} / BATCH            the batch record (domain Batch)
    BULK#{batch_id} / CHUNK#{n}        up to CHUNK_ROWS list rows as screened (ID numbers encrypted + keyed hash;
                                       a row refused by the screening carries its refusal, masked ID only)
    BULK#{batch_id} / ROW#{row}        one row's outcome, written once (attribute_not_exists); refused and already
                                       covered rows also GSI3 BULKREFUSED#{batch_id} / {row} (sparse: the report)
    (CHUNK and ROW items carry the table's TTL: deleted after the plan's retention period, DOMAIN §10.4)
    BULKCOUNT#{batch_id}#{shard} / COUNTS   counters, spread over COUNT_SHARDS partitions by row so parallel
                                       workers' row transactions do not collide on one item (read: one BatchGetItem)
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import Table, TxOp
from chalicelib.domain.bulk import Batch, BatchCounts, RowOutcome, RowRefusal, StoredRow, row_counters
from chalicelib.domain.order import CoverMarker

CHUNK_ROWS = 500  # ~300 bytes a row: ~150 KB per item, well under DynamoDB's 400 KB
COUNT_SHARDS = 16
_BATCH_FIELDS = frozenset(Batch.model_fields)
_KEY_ATTRIBUTES = frozenset({schema.PARTITION_KEY, schema.SORT_KEY, schema.TTL_ATTRIBUTE,
                             *(name for pair in schema.GSIS.values() for name in pair)})


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def batch_item(batch: Batch) -> dict[str, Any]:
    return {**batch.model_dump(mode="json", exclude_none=True), **keys.bulk_batch(batch.batch_id)}


def batch_of(item: dict[str, Any]) -> Batch:
    return Batch.model_validate({k: v for k, v in item.items() if k in _BATCH_FIELDS})


class BulkRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # ---- the batch ------------------------------------------------------------------------------------------
    def get(self, batch_id: str) -> Batch | None:
        item = self.table.get(keys.bulk_batch(batch_id))
        return batch_of(item) if item else None

    @staticmethod
    def create_op(batch: Batch) -> TxOp:
        return TxOp.put(batch_item(batch))

    def move(self, batch: Batch, to: str, **fields: Any) -> None:
        """Move the batch from its current status (conditional: a concurrent move wins, this one is dropped)."""
        from chalicelib.adapters.dynamodb import ConditionFailed

        sets = ", ".join(["#s = :to"] + [f"#{k} = :{k}" for k in fields])
        names = {"#s": "status", **{f"#{k}": k for k in fields}}
        values = {":to": to, ":from": batch.status, **{f":{k}": v for k, v in fields.items()}}
        try:
            self.table.update(keys.bulk_batch(batch.batch_id), f"SET {sets}", condition="#s = :from", names=names,
                              values=values)
        except ConditionFailed:
            pass

    # ---- rows -----------------------------------------------------------------------------------------------
    def put_chunks(self, batch_id: str, rows: list[StoredRow], expires_at: int | None = None) -> int:
        """Store the screened rows in chunks (plain puts: a retried request writes the same items again), deleted
        by the table's TTL at `expires_at` (epoch seconds: the plan's retention period, DOMAIN §10.4)."""
        chunks = 0
        ttl = {schema.TTL_ATTRIBUTE: expires_at} if expires_at is not None else {}
        for start in range(0, len(rows), CHUNK_ROWS):
            self.table.put({**keys.bulk_chunk(batch_id, chunks), **ttl,
                            "rows": [r.model_dump(mode="json", exclude_none=True) for r in rows[start:start + CHUNK_ROWS]]})
            chunks += 1
        return chunks

    def rows(self, batch_id: str, chunks: int) -> Iterator[StoredRow]:
        for n in range(chunks):
            item = self.table.get(keys.bulk_chunk(batch_id, n))
            yield from (StoredRow.model_validate(r) for r in (item or {}).get("rows", []))

    def outcome(self, batch_id: str, row: int) -> RowOutcome | None:
        item = self.table.get(keys.bulk_row(batch_id, row))
        return RowOutcome.model_validate(_fields(item)) if item else None

    def outcome_and_covers(self, batch_id: str, row: int, id_hash: str | None,
                           plan_ids: list[str]) -> tuple[RowOutcome | None, dict[str, CoverMarker]]:
        """One BatchGetItem: the row's outcome, and the person's cover markers for these plans (by plan id)."""
        wanted = [keys.bulk_row(batch_id, row)]
        plan_of = {}
        for plan_id in plan_ids if id_hash else []:
            marker_key = keys.cover_marker(plan_id, id_hash)
            wanted.append(marker_key)
            plan_of[marker_key[schema.PARTITION_KEY]] = plan_id
        outcome, covers = None, {}
        for item in self.table.batch_get(wanted):
            if item[schema.PARTITION_KEY] in plan_of:
                covers[plan_of[item[schema.PARTITION_KEY]]] = CoverMarker.model_validate(_fields(item))
            else:
                outcome = RowOutcome.model_validate(_fields(item))
        return outcome, covers

    def cover(self, plan_id: str, id_hash: str) -> CoverMarker | None:
        item = self.table.get(keys.cover_marker(plan_id, id_hash))
        return CoverMarker.model_validate(_fields(item)) if item else None

    @staticmethod
    def new_cover_op(marker: CoverMarker, id_hash: str) -> TxOp:
        """The person's cover marker for a row's policy: refused if anyone holds one (an order, another list)."""
        from chalicelib.adapters.repositories.orders import cover_item

        return TxOp.put(cover_item(marker, id_hash))

    @staticmethod
    def outcome_ops(batch_id: str, refusal_or_code: RowRefusal | str, row: int, *, replaces_eligible: bool = False,
                    expires_at: int | None = None, **extra: Any) -> list[TxOp]:
        """The row's outcome (once: refused if the row has one, or — `replaces_eligible` — unless it is still
        ELIGIBLE) and the +1 (and the eligible −1) on the row's counter shard. The outcome (the refused-rows report)
        is deleted by the table's TTL at `expires_at`; the counts stay."""
        if isinstance(refusal_or_code, RowRefusal):
            item = {**refusal_or_code.model_dump(), **keys.gsi_bulk_refused(batch_id, row)}
            code = refusal_or_code.code
        else:
            code = refusal_or_code
            item = {"row": row, "code": code}
            if code == "ALREADY_COVERED":
                item.update(keys.gsi_bulk_refused(batch_id, row))
        item.update(extra)
        if expires_at is not None:
            item[schema.TTL_ATTRIBUTE] = expires_at
        item.update(keys.bulk_row(batch_id, row))
        if replaces_eligible:
            put = TxOp.put(item, condition="code = :eligible", values={":eligible": "ELIGIBLE"})
        else:
            put = TxOp.put(item)
        adds = dict.fromkeys(row_counters(code), 1)
        if replaces_eligible:
            adds["eligible"] = adds.get("eligible", 0) - 1
        update = "ADD " + ", ".join(f"{name} :{name}" for name in adds)
        count = TxOp.update_item(keys.bulk_counts(batch_id, row % COUNT_SHARDS), update,
                                 values={f":{name}": n for name, n in adds.items()})
        return [put, count]

    def counts(self, batch_id: str) -> BatchCounts:
        totals = {name: 0 for name in BatchCounts.model_fields}
        for item in self.table.batch_get([keys.bulk_counts(batch_id, n) for n in range(COUNT_SHARDS)]):
            for name in totals:
                totals[name] += int(item.get(name, 0))
        return BatchCounts(**totals)

    def refused_page(self, batch_id: str, limit: int, after_row: int | None) -> tuple[list[RowRefusal], int | None]:
        """Refused (and already-covered) rows in row order after `after_row`; the last row as the next cursor."""
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_STATUS]
        pk = keys.gsi_bulk_refused(batch_id, 0)[pk_name]
        between = (f"{after_row + 1:07d}", "9999999") if after_row is not None else None
        items, last = self.table.query(pk_name, pk, index=schema.GSI_BY_STATUS, sk_name=sk_name, sk_between=between,
                                       limit=limit)
        refusals = [RowRefusal(row=int(i["row"]), code=i["code"], message=i["message"],
                               id_number_masked=i["id_number_masked"]) for i in items]
        return refusals, (refusals[-1].row if last and refusals else None)

    def all_refused(self, batch_id: str) -> Iterator[RowRefusal]:
        after = None
        while True:
            page, after = self.refused_page(batch_id, 1000, after)
            yield from page
            if after is None:
                return
