"""The settlement feed (免申即享, DOMAIN §11.1): the job `settlement_feed` reads the 医保 platform's settlement
records after a stored cursor on the platform's sequence number and fans them out, a few hundred per queue message,
to `services.claims.automatic.from_settlement`; and the job `payout_sweep` confirms claim transfers whose outcome is
not known yet and pays approved claims whose payee has appeared.

The cursor is a sequence number, never a time: a record settled on Monday and published on Wednesday takes a later
number and is read by the next run. The cursor moves only when the record that carries it is handled — the last
item of the run's last message, which is sent after every other — so a run that dies while enqueuing is simply run
again (each record is acted on once by its own marker, whoever reads it twice). Queue payloads carry the record
with the ID number encrypted (the queue and its dead-letter queue never hold it in the clear).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.domain.platform import Settlement
from chalicelib.services.claims.ports import ClaimPorts

CURSOR_ITEM = "cursor"
MAX_RECORDS_PER_RUN = 100_000  # a city's day is tens of thousands; the next run (15 minutes later) goes on
ID_CONTEXT = "settlement_feed_id_number"  # AES-GCM associated data of the ID number in a queue payload
COUNTS = ("read", "created", "paid", "review", "skipped")


@dataclass
class FeedPorts:
    claims: ClaimPorts
    cursor: Any  # adapters.repositories.feed_cursor.FeedCursor
    page_limit: int = 500


# ---- settlement_feed --------------------------------------------------------------------------------------------
def records(ports: FeedPorts) -> Iterator[tuple[str, Any]]:
    """The run's items: every record after the cursor (page by page, up to MAX_RECORDS_PER_RUN), then the cursor
    item naming the last sequence number read."""
    start = position = ports.cursor.position()
    read = 0
    while read < MAX_RECORDS_PER_RUN:
        page = ports.claims.platform.settlements_after(position, ports.page_limit)
        if not page:
            break
        for record in page:
            yield record.settlement_id, _payload(ports.claims, record)
            position = max(position, record.seq)
        read += len(page)
        if len(page) < ports.page_limit:
            break
    if position > start:
        yield CURSOR_ITEM, {"seq": position}


def handle(ports: FeedPorts, item_id: str, payload: Any, now: datetime) -> dict[str, int]:
    from chalicelib.services.claims import automatic

    if item_id == CURSOR_ITEM:
        ports.cursor.advance(int(payload["seq"]), iso(now))
        return {}
    return automatic.from_settlement(ports.claims, _record(ports.claims, payload), now)


def _payload(ports: ClaimPorts, record: Settlement) -> dict[str, Any]:
    data = record.model_dump(mode="json", exclude={"id_number"})
    data["id_enc"] = ports.cipher.encrypt(record.id_number, ID_CONTEXT, record.settlement_id)
    return data


def _record(ports: ClaimPorts, payload: dict[str, Any]) -> Settlement:
    data = {k: v for k, v in payload.items() if k != "id_enc"}
    data["id_number"] = ports.cipher.decrypt(payload["id_enc"], ID_CONTEXT, payload["settlement_id"])
    return Settlement.model_validate(data)


# ---- payout_sweep -----------------------------------------------------------------------------------------------
def payout_work(ports: ClaimPorts) -> Iterable[tuple[str, Any]]:
    """Approved claims whose transfer is not confirmed or whose payee may have appeared, and failed retries in
    flight: the sparse staff-queue partitions of those two states (claims leave them when paid)."""
    for status in ("approved", "payout_failed"):
        for claim in ports.claims.in_status(status):
            payout = claim.payout
            if payout is None:
                continue  # approved by staff, not yet paid by staff: theirs to pay
            if payout.status in ("requested", "processing") or \
                    (payout.status == "awaiting_payee" and claim.approved_by == "system"):
                yield claim.claim_id, {}


def sweep_claim(ports: ClaimPorts, claim_id: str, now: datetime) -> dict[str, int]:
    from chalicelib.domain.claim_models import SYSTEM
    from chalicelib.services.claims import payment

    claim = ports.claims.get(claim_id)
    if claim is None or claim.payout is None:
        return {"skipped": 1}
    if claim.payout.status == "awaiting_payee":
        after = payment.commit_and_send(ports, claim, SYSTEM, now)
    else:
        after = payment.sweep_one(ports, claim, now)
    if after.status == "paid":
        return {"paid": 1}
    if after.status == "payout_failed" and claim.status != "payout_failed":
        return {"failed": 1}
    return {"waiting": 1}


def reconcile_day(ports: ClaimPorts, day, now: datetime) -> dict[str, int]:
    """The daily payout reconciliation (对账): the gateway's statement of `day` against our claims. A transfer that
    succeeded for a claim we have not marked paid is applied; a difference we cannot explain (an amount that does
    not match, a transfer for no claim of ours) is logged as a WARNING the alarm counts, for staff."""
    from chalicelib.observability import logger
    from chalicelib.services.claims import payment

    counts = {"transfers": 0, "matched": 0, "applied": 0, "differences": 0}
    for transfer in ports.payouts.statement(day):
        counts["transfers"] += 1
        claim_id = transfer.reference
        claim = ports.claims.get(claim_id) if claim_id else None
        payout = claim.payout if claim else None
        if claim is None or payout is None:
            counts["differences"] += 1
            logger().warning("payout reconciliation: a transfer for no claim of ours",
                             extra={"reconciliation_difference": "payout", "transfer_id": transfer.transfer_id,
                                    "amount_fen": transfer.amount_fen})
            continue
        if transfer.amount_fen != payout.amount_fen:
            counts["differences"] += 1
            logger().warning("payout reconciliation: amount differs", extra={
                "reconciliation_difference": "payout", "claim_id": claim.claim_id, "transfer_fen": transfer.amount_fen,
                "claim_fen": payout.amount_fen})
            continue
        if transfer.idempotency_key == payout.idempotency_key and payout.status in ("requested", "processing") \
                and transfer.final:
            payment.apply(ports, claim, transfer, now)
            counts["applied"] += 1
        else:
            counts["matched"] += 1
    if counts["differences"]:
        logger().warning("payout reconciliation differences", extra={"day": day.isoformat(), **counts})
    return counts
