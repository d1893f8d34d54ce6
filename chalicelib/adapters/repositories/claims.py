"""Claims in DynamoDB (docs/access-patterns.md): the claim, its documents and its timeline share the partition
`CLAIM#{claim_id}`, so one query reads a whole claim; paid-bill markers; the staff audit; idempotency records of the
claim writes; and the year-to-date state of the claim's policy, read and advanced here only.

`DynamoClaimRepository` is the only code that knows these items' shapes and keys; `InMemoryClaimRepository` is its
twin for service tests. Both behave the same (tests/contract/test_claim_repository.py): every write is one
all-or-nothing transaction whose conditions are the claim's status and version (and the policy's version when a
payment advances its year-to-date state); a refused condition raises `ConditionFailed` and writes nothing.
"""
from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.adapters.repositories.idempotency import IdempotencyRepository
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import (
    Actor,
    Claim,
    ClaimEvent,
    ClaimPolicy,
    Document,
    Outcome,
    PaidBill,
    SettlementMark,
    StaffAudit,
    YearToDateFigures,
)
from chalicelib.domain.errors import Conflict

# GSI3 sort keys order the staff queue: claims awaiting a decision by deadline (so overdue ones lead), then decided
# claims awaiting payment by approval time (their decision is made: no longer "overdue"), then claims still waiting
# for documents. ASCII: digits < "}" < "~".
AWAITING_PAYMENT_MARK = "}"
NO_DEADLINE_MARK = "~"
QUEUE_END = "~~"


class ClaimRepository(Protocol):
    def get(self, claim_id: str) -> Claim | None: ...
    def get_whole(self, claim_id: str) -> tuple[Claim, list[Document], list[ClaimEvent]] | None: ...
    def documents(self, claim_id: str) -> list[Document]: ...
    def of_person(self, insured_hash: str) -> list[Claim]: ...
    def queue_page(self, status: str, after: str | None, limit: int) -> list[tuple[str, Claim]]: ...
    def due_by(self, status: str, last_day: date) -> list[Claim]: ...
    def with_deadline(self, status: str) -> list[Claim]: ...
    def paid_bills(self, policy_id: str, fingerprints: Sequence[str]) -> dict[str, str]: ...
    def outcome(self, scope: str, key: str, request_hash: str) -> Outcome | None: ...
    def policy_for_claim(self, policy_id: str) -> ClaimPolicy | None: ...
    def create(self, claim: Claim, event: ClaimEvent, outcome: Outcome | None = None) -> None: ...
    def add_document(self, document: Document, max_documents: int) -> None: ...
    def verify(self, before: Claim, after: Claim, document: Document, events: Sequence[ClaimEvent] = ()) -> None: ...
    def transition(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                   audit: StaffAudit | None = None) -> None: ...
    def pay(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
            policy: ClaimPolicy, year_to_date_after: YearToDateFigures, paid_bills: Sequence[PaidBill],
            counter_op: TxOp | None, outcome: Outcome) -> None: ...
    def reschedule(self, before: Claim, after: Claim) -> None: ...
    def release_payment(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
                        policy: ClaimPolicy, year_to_date_after: YearToDateFigures,
                        paid_bills: Sequence[PaidBill]) -> None: ...
    # 免申即享 (DOMAIN §11) and the payout (docs/payouts.md)
    def policies_of_insured(self, insured_hash: str) -> list[ClaimPolicy]: ...
    def in_status(self, status: str) -> list[Claim]: ...
    def settlement(self, settlement_id: str) -> SettlementMark | None: ...
    def mark_settlement(self, mark: SettlementMark) -> bool: ...
    def resolve_settlement(self, mark: SettlementMark, by: str, at: str) -> SettlementMark: ...
    def settlement_reviews(self, limit: int) -> list[SettlementMark]: ...
    def create_from_settlement(self, claim: Claim, events: Sequence[ClaimEvent], mark: SettlementMark,
                               payment: SettlementPayment | None = None) -> None: ...
    def settle_payout(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                      counter_op: TxOp | None) -> None: ...


@dataclass(frozen=True)
class SettlementPayment:
    """The payment an automatic claim commits in the transaction that creates it (approved at once by the system):
    the policy's year-to-date state read (its version is the condition) and after, the paid-bill markers, the
    audit entry."""

    policy: ClaimPolicy
    year_to_date_after: YearToDateFigures
    paid_bills: Sequence[PaidBill]
    audit: StaffAudit


def settlement_item(mark: SettlementMark) -> dict[str, Any]:
    item = {**keys.settlement_record(mark.settlement_id), **_plain_fields(mark)}
    if mark.outcome == "review" and mark.resolved_at is None:
        item.update(keys.gsi_settlement_review(mark.at, mark.settlement_id))
    return item


def settlement_from_item(item: dict[str, Any]) -> SettlementMark:
    return SettlementMark.model_validate({k: v for k, v in item.items() if k in SettlementMark.model_fields})


def queue_sort_key(claim: Claim) -> str:
    """The claim's place in the staff queue (GSI3SK)."""
    if claim.status in rules.AWAITING_PAYMENT or claim.status == "paid":
        return f"{AWAITING_PAYMENT_MARK}{claim.approved_at}#{claim.claim_id}"
    due = claim.decision_due.isoformat() if claim.decision_due else NO_DEADLINE_MARK
    return f"{due}#{claim.claim_id}"


# ---- item mapping --------------------------------------------------------------------------------------------------
_CLAIM_FIELDS = frozenset(Claim.model_fields)
_KEY_ATTRIBUTES = frozenset({"PK", "SK", *(name for pair in schema.GSIS.values() for name in pair)})


def claim_item(claim: Claim) -> dict[str, Any]:
    """The stored claim: its fields, its key, and its three index entries (insured, member claimant, staff queue)."""
    sort = f"CLAIM#{claim.submitted_at}#{claim.claim_id}"
    item = {**keys.claim(claim.claim_id), **_plain_fields(claim),
            **keys.gsi_person(claim.insured_hash, sort),
            **keys.gsi_status("CLAIM", claim.status, queue_sort_key(claim))}
    if claim.claimant_kind == "member" and claim.claimant_account_id:
        item.update(keys.gsi_account(claim.claimant_account_id, sort))
    return item


def claim_from_item(item: dict[str, Any]) -> Claim:
    return Claim.model_validate({k: v for k, v in item.items() if k in _CLAIM_FIELDS})


def _plain_fields(model) -> dict[str, Any]:
    return {k: v for k, v in model.model_dump(mode="json").items() if v is not None}


def _actor_attrs(actor: Actor) -> dict[str, str]:
    return {"by_kind": actor.kind, "by_id": actor.id, "by_role": actor.role}


def _actor_of(item: dict[str, Any]) -> Actor:
    return Actor(kind=item["by_kind"], id=item["by_id"], role=item["by_role"])


def document_item(doc: Document) -> dict[str, Any]:
    fields = _plain_fields(doc)
    fields.pop("by")
    return {**keys.claim_document(doc.claim_id, doc.document_id), **fields, **_actor_attrs(doc.by)}


def document_from_item(item: dict[str, Any]) -> Document:
    return Document.model_validate({**{k: v for k, v in item.items() if k in Document.model_fields and k != "by"},
                                    "by": _actor_of(item)})


def event_item(event: ClaimEvent) -> dict[str, Any]:
    return {**keys.claim_event(event.claim_id, event.at, event.seq), "status": event.status, "at": event.at,
            "note": event.note, **_actor_attrs(event.by)}


def event_from_item(claim_id: str, item: dict[str, Any]) -> ClaimEvent:
    return ClaimEvent(claim_id=claim_id, seq=int(item["SK"].rsplit("#", 1)[1]), status=item["status"],
                      at=item["at"], note=item.get("note"), by=_actor_of(item))


def audit_item(audit: StaffAudit) -> dict[str, Any]:
    return {**keys.audit(f"CLAIM#{audit.claim_id}", audit.at, f"{audit.seq:04d}"), "claim_id": audit.claim_id,
            "at": audit.at, "action": audit.action, "staff_id": audit.by.id, "role": audit.by.role,
            **{k: v for k, v in audit.facts.items() if v is not None}}


def claim_policy_from_item(item: dict[str, Any]) -> ClaimPolicy:
    """The claim's view of a stored policy item (attribute names as the orders side writes them)."""
    return ClaimPolicy(
        policy_id=item["policy_id"], plan_id=item["plan_id"], insured_hash=item["insured_hash"],
        insured_name=item.get("insured_name"), insured_id_enc=item.get("insured_id_enc"),
        status=item.get("status", "active"), benefit_start=item["benefit_start"], coverage_end=item["coverage_end"],
        county=item.get("county"), payment_method=item.get("payment_method"),
        payer_account_id=item.get("payer_account_id"),
        year_to_date=YearToDateFigures(deductible_used_fen=int(item.get("ytd_deductible_used_fen") or 0),
                                       eligible_fen=int(item.get("ytd_eligible_fen") or 0),
                                       paid_fen=int(item.get("ytd_paid_fen") or 0)),
        version=int(item["version"]) if item.get("version") is not None else None)


def advance_year_to_date_op(policy: ClaimPolicy, after: YearToDateFigures) -> TxOp:
    """The policy's year-to-date state moved to `after`, on the condition that its version is still the one read
    (a concurrent payment of another claim of the policy refuses this one, which then re-reads and recomputes).
    The ONE place the claims side writes a policy item (to be pointed at the orders side's PolicyRepository)."""
    values: dict[str, Any] = {":d": after.deductible_used_fen, ":e": after.eligible_fen, ":p": after.paid_fen,
                              ":next": (policy.version or 0) + 1}
    if policy.version is None:
        condition = "attribute_exists(PK) AND attribute_not_exists(#version)"
    else:
        condition, values[":read"] = "#version = :read", policy.version
    return TxOp.update_item(keys.policy(policy.policy_id),
                            "SET ytd_deductible_used_fen = :d, ytd_eligible_fen = :e, ytd_paid_fen = :p, "
                            "#version = :next", condition=condition, names={"#version": "version"}, values=values)


def _claim_update_op(before: Claim, after: Claim) -> TxOp:
    """SET what changed and REMOVE what was cleared, on the condition that status and version are still `before`'s
    (attributes nobody changed, such as a document count moved meanwhile, are left alone)."""
    old, new = claim_item(before), claim_item(after)
    changed = {k: v for k, v in new.items() if old.get(k) != v and k not in ("PK", "SK")}
    removed = [k for k in old if k not in new]
    names = {f"#f{i}": name for i, name in enumerate([*changed, *removed])}
    values: dict[str, Any] = {f":v{i}": value for i, value in enumerate(changed.values())}
    update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changed)))
    if removed:
        update += " REMOVE " + ", ".join(f"#f{i}" for i in range(len(changed), len(changed) + len(removed)))
    names.update({"#status": "status", "#version": "version"})
    values.update({":from": before.status, ":version": before.version})
    return TxOp.update_item(keys.claim(before.claim_id), update, condition="#status = :from AND #version = :version",
                            names=names, values=values)


def _outcome_op(outcome: Outcome, now_iso: str) -> TxOp:
    return IdempotencyRepository.completed_op(outcome.scope, outcome.key, outcome.request_hash,
                                              datetime.fromisoformat(now_iso), outcome.status, outcome.body,
                                              resource_id=outcome.resource_id)


# ---- DynamoDB ------------------------------------------------------------------------------------------------------
class DynamoClaimRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # reads
    def get(self, claim_id: str) -> Claim | None:
        item = self.table.get(keys.claim(claim_id))
        return claim_from_item(item) if item else None

    def get_whole(self, claim_id: str) -> tuple[Claim, list[Document], list[ClaimEvent]] | None:
        items = list(self.table.query_all(schema.PARTITION_KEY, keys.claim(claim_id)["PK"]))
        claim = next((i for i in items if i["SK"] == "CLAIM"), None)
        if claim is None:
            return None
        docs = sorted((document_from_item(i) for i in items if i["SK"].startswith("DOC#")),
                      key=lambda d: (d.created_at, d.document_id))
        events = [event_from_item(claim_id, i) for i in sorted(items, key=lambda i: i["SK"])
                  if i["SK"].startswith("EVENT#")]
        return claim_from_item(claim), docs, events

    def documents(self, claim_id: str) -> list[Document]:
        items = self.table.query_all(schema.PARTITION_KEY, keys.claim(claim_id)["PK"], sk_prefix="DOC#")
        return sorted((document_from_item(i) for i in items), key=lambda d: (d.created_at, d.document_id))

    def of_person(self, insured_hash: str) -> list[Claim]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
        items = self.table.query_all(pk_name, keys.gsi_person(insured_hash, "")["GSI1PK"], index=schema.GSI_BY_PERSON,
                                     sk_name=sk_name, sk_prefix="CLAIM#")
        return [claim_from_item(i) for i in items]

    def _queue(self, status: str, window: tuple[str, str] | None, limit: int | None = None) -> list[dict[str, Any]]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_STATUS]
        pk = keys.gsi_status("CLAIM", status, "")["GSI3PK"]
        between = {"sk_between": window} if window else {}
        if limit is not None:
            items, _ = self.table.query(pk_name, pk, index=schema.GSI_BY_STATUS, sk_name=sk_name, limit=limit,
                                        **between)
            return items
        return list(self.table.query_all(pk_name, pk, index=schema.GSI_BY_STATUS, sk_name=sk_name, **between))

    def queue_page(self, status: str, after: str | None, limit: int) -> list[tuple[str, Claim]]:
        """Claims of one status in queue order, strictly after the sort key `after`, at most `limit`."""
        items = self._queue(status, (after + "\x00", QUEUE_END) if after else None, limit)
        return [(i["GSI3SK"], claim_from_item(i)) for i in items]

    def due_by(self, status: str, last_day: date) -> list[Claim]:
        """Claims of one status whose decision is due on or before `last_day` (from the queue's sort keys)."""
        return [claim_from_item(i) for i in self._queue(status, ("0000-00-00", last_day.isoformat() + "#~"))]

    def with_deadline(self, status: str) -> list[Claim]:
        return [claim_from_item(i) for i in self._queue(status, ("0000-00-00", "9999-99-99#~"))]

    def paid_bills(self, policy_id: str, fingerprints: Sequence[str]) -> dict[str, str]:
        by_pk = {keys.paid_bill(policy_id, f)["PK"]: f for f in dict.fromkeys(fingerprints)}
        found = self.table.batch_get([keys.paid_bill(policy_id, f) for f in by_pk.values()]) if by_pk else []
        return {by_pk[item["PK"]]: item["claim_id"] for item in found}

    def outcome(self, scope: str, key: str, request_hash: str) -> Outcome | None:
        record = IdempotencyRepository(self.table).get(scope, key)
        if record is None:
            return None
        done = record.replay(request_hash)  # 409 for another body, or while the first request runs
        return Outcome(scope=scope, key=key, request_hash=request_hash, status=done["status"], body=done["body"])

    def policy_for_claim(self, policy_id: str) -> ClaimPolicy | None:
        item = self.table.get(keys.policy(policy_id))
        return claim_policy_from_item(item) if item else None

    # writes (each one transaction)
    def create(self, claim: Claim, event: ClaimEvent, outcome: Outcome | None = None) -> None:
        ops = [TxOp.put(claim_item(claim)), TxOp.put(event_item(event))]
        if outcome is not None:
            ops.append(_outcome_op(outcome, claim.submitted_at))
        self.table.transact(ops)

    def add_document(self, document: Document, max_documents: int) -> None:
        open_statuses = {f":s{i}": s for i, s in enumerate(rules.BEFORE_DECISION)}
        self.table.transact([
            TxOp.put(document_item(document)),
            TxOp.update_item(keys.claim(document.claim_id), "ADD document_count :one",
                             condition=f"#status IN ({', '.join(open_statuses)}) AND document_count < :max",
                             names={"#status": "status"}, values={":one": 1, ":max": max_documents, **open_statuses}),
        ])

    def verify(self, before: Claim, after: Claim, document: Document, events: Sequence[ClaimEvent] = ()) -> None:
        values: dict[str, Any] = {":s": document.status, ":at": document.verified_at, ":awaiting": "awaiting_upload"}
        update = "SET #status = :s, verified_at = :at"
        if document.reason_code:
            update, values[":r"] = update + ", reason_code = :r", document.reason_code
        self.table.transact([
            TxOp.update_item(keys.claim_document(document.claim_id, document.document_id), update,
                             condition="#status = :awaiting", names={"#status": "status"}, values=values),
            _claim_update_op(before, after), *(TxOp.put(event_item(e)) for e in events)])

    def transition(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                   audit: StaffAudit | None = None) -> None:
        ops = [_claim_update_op(before, after), *(TxOp.put(event_item(e)) for e in events)]
        if audit is not None:
            ops.append(TxOp.put(audit_item(audit)))
        self.table.transact(ops)

    def pay(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
            policy: ClaimPolicy, year_to_date_after: YearToDateFigures, paid_bills: Sequence[PaidBill],
            counter_op: TxOp | None, outcome: Outcome) -> None:
        ops = [_claim_update_op(before, after), *(TxOp.put(event_item(e)) for e in events),
               advance_year_to_date_op(policy, year_to_date_after),
               *(TxOp.put({**keys.paid_bill(m.policy_id, m.fingerprint), "claim_id": m.claim_id,
                           "paid_at": m.paid_at}, condition="attribute_not_exists(PK)") for m in paid_bills)]
        if counter_op is not None:
            ops.append(counter_op)
        ops += [TxOp.put(audit_item(audit)), _outcome_op(outcome, audit.at)]
        self.table.transact(ops)

    def reschedule(self, before: Claim, after: Claim) -> None:
        self.table.transact([_claim_update_op(before, after)])

    def release_payment(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
                        policy: ClaimPolicy, year_to_date_after: YearToDateFigures,
                        paid_bills: Sequence[PaidBill]) -> None:
        """A committed payment taken back (no money moved): the claim (its status and version the condition), the
        policy's year-to-date state without it (its version the condition) and the removal of the paid-bill
        markers it put (each only if still this claim's), with the audit entry — all or nothing."""
        ops = [_claim_update_op(before, after), *(TxOp.put(event_item(e)) for e in events),
               advance_year_to_date_op(policy, year_to_date_after),
               *(TxOp.delete(keys.paid_bill(m.policy_id, m.fingerprint),
                             condition="attribute_not_exists(PK) OR claim_id = :claim",
                             values={":claim": m.claim_id}) for m in paid_bills),
               TxOp.put(audit_item(audit))]
        self.table.transact(ops)

    # 免申即享 and the payout
    def policies_of_insured(self, insured_hash: str) -> list[ClaimPolicy]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
        index = keys.gsi_person(insured_hash, "POLICY#")
        items = self.table.query_all(pk_name, index[pk_name], index=schema.GSI_BY_PERSON, sk_name=sk_name,
                                     sk_prefix=index[sk_name])
        return sorted((claim_policy_from_item(i) for i in items), key=lambda p: (p.benefit_start, p.policy_id))

    def in_status(self, status: str) -> list[Claim]:
        return [claim_from_item(i) for i in self._queue(status, None)]

    def settlement(self, settlement_id: str) -> SettlementMark | None:
        item = self.table.get(keys.settlement_record(settlement_id))
        return settlement_from_item(item) if item else None

    def mark_settlement(self, mark: SettlementMark) -> bool:
        try:
            self.table.put(settlement_item(mark), condition="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def resolve_settlement(self, mark: SettlementMark, by: str, at: str) -> SettlementMark:
        after = mark.model_copy(update={"resolved_at": at, "resolved_by": by})
        self.table.transact([TxOp.put(settlement_item(after), condition="attribute_not_exists(resolved_at)")])
        return after

    def settlement_reviews(self, limit: int) -> list[SettlementMark]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_STATUS]
        pk = keys.gsi_settlement_review("", "")["GSI3PK"]
        items, _ = self.table.query(pk_name, pk, index=schema.GSI_BY_STATUS, sk_name=sk_name, limit=limit)
        return [settlement_from_item(i) for i in items]

    def create_from_settlement(self, claim: Claim, events: Sequence[ClaimEvent], mark: SettlementMark,
                               payment: SettlementPayment | None = None) -> None:
        """The automatic claim and the record's marker in one transaction: a record delivered twice, or read by two
        overlapping runs, creates one claim. With `payment`, the claim is created approved with its payment
        committed (year-to-date state, paid-bill markers, audit) in that same transaction."""
        ops = [TxOp.put(claim_item(claim)), *(TxOp.put(event_item(e)) for e in events),
               TxOp.put(settlement_item(mark))]
        if payment is not None:
            ops += [advance_year_to_date_op(payment.policy, payment.year_to_date_after),
                    *(TxOp.put({**keys.paid_bill(m.policy_id, m.fingerprint), "claim_id": m.claim_id,
                                "paid_at": m.paid_at}) for m in payment.paid_bills),
                    TxOp.put(audit_item(payment.audit))]
        self.table.transact(ops)

    def settle_payout(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                      counter_op: TxOp | None) -> None:
        ops = [_claim_update_op(before, after), *(TxOp.put(event_item(e)) for e in events)]
        if counter_op is not None:
            ops.append(counter_op)
        self.table.transact(ops)


# ---- in-memory twin ------------------------------------------------------------------------------------------------
class InMemoryClaimRepository:
    """The same behaviour in dicts, for service tests: one lock makes each write all-or-nothing, and the same
    conditions refuse the same writes with `ConditionFailed`. Policies are seeded with `add_policy`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.claims: dict[str, Claim] = {}
        self.docs: dict[str, dict[str, Document]] = {}
        self.events: dict[str, list[ClaimEvent]] = {}
        self.audits: list[StaffAudit] = []
        self.markers: dict[tuple[str, str], PaidBill] = {}
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.policies: dict[str, ClaimPolicy] = {}
        self.counter_ops: list[TxOp] = []
        self.settlements: dict[str, SettlementMark] = {}

    def add_policy(self, policy: ClaimPolicy) -> None:
        self.policies[policy.policy_id] = policy

    # reads
    def get(self, claim_id: str) -> Claim | None:
        return self.claims.get(claim_id)

    def get_whole(self, claim_id: str) -> tuple[Claim, list[Document], list[ClaimEvent]] | None:
        with self._lock:
            claim = self.claims.get(claim_id)
            if claim is None:
                return None
            events = sorted(self.events.get(claim_id, []), key=lambda e: (e.at, e.seq))
            return claim, self.documents(claim_id), events

    def documents(self, claim_id: str) -> list[Document]:
        return sorted(self.docs.get(claim_id, {}).values(), key=lambda d: (d.created_at, d.document_id))

    def of_person(self, insured_hash: str) -> list[Claim]:
        return sorted((c for c in self.claims.values() if c.insured_hash == insured_hash),
                      key=lambda c: (c.submitted_at, c.claim_id))

    def _queue(self, status: str) -> list[tuple[str, Claim]]:
        return sorted((queue_sort_key(c), c) for c in self.claims.values() if c.status == status)

    def queue_page(self, status: str, after: str | None, limit: int) -> list[tuple[str, Claim]]:
        return [(k, c) for k, c in self._queue(status) if after is None or k > after][:limit]

    def due_by(self, status: str, last_day: date) -> list[Claim]:
        return [c for k, c in self._queue(status) if k[0].isdigit() and k[:10] <= last_day.isoformat()]

    def with_deadline(self, status: str) -> list[Claim]:
        return [c for k, c in self._queue(status) if k[0].isdigit()]

    def paid_bills(self, policy_id: str, fingerprints: Sequence[str]) -> dict[str, str]:
        return {f: self.markers[(policy_id, f)].claim_id for f in fingerprints if (policy_id, f) in self.markers}

    def outcome(self, scope: str, key: str, request_hash: str) -> Outcome | None:
        found = self.outcomes.get((scope, key))
        if found is None:
            return None
        if found.request_hash != request_hash:
            raise Conflict("IDEMPOTENCY_KEY_REUSED", field="Idempotency-Key")
        return Outcome(**{**found.model_dump(), "body": json.loads(json.dumps(found.body, default=str))})

    def policy_for_claim(self, policy_id: str) -> ClaimPolicy | None:
        return self.policies.get(policy_id)

    # writes
    def _check_claim(self, before: Claim) -> None:
        current = self.claims.get(before.claim_id)
        if current is None or (current.status, current.version) != (before.status, before.version):
            raise ConditionFailed(["ConditionalCheckFailed"])

    def _apply(self, before: Claim, after: Claim) -> None:
        current = self.claims[before.claim_id]
        self.claims[before.claim_id] = after.model_copy(update={"document_count": current.document_count})

    def _add_events(self, events: Iterable[ClaimEvent]) -> None:
        for e in events:
            self.events.setdefault(e.claim_id, []).append(e)

    def _add_outcome(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            if (outcome.scope, outcome.key) in self.outcomes:
                raise ConditionFailed(["ConditionalCheckFailed"])
            self.outcomes[(outcome.scope, outcome.key)] = outcome.model_copy(
                update={"body": copy.deepcopy(outcome.body)})

    def create(self, claim: Claim, event: ClaimEvent, outcome: Outcome | None = None) -> None:
        with self._lock:
            if claim.claim_id in self.claims or (outcome and (outcome.scope, outcome.key) in self.outcomes):
                raise ConditionFailed(["ConditionalCheckFailed"])
            self.claims[claim.claim_id] = claim
            self._add_events([event])
            self._add_outcome(outcome)

    def add_document(self, document: Document, max_documents: int) -> None:
        with self._lock:
            claim = self.claims.get(document.claim_id)
            if claim is None or claim.status not in rules.BEFORE_DECISION or claim.document_count >= max_documents:
                raise ConditionFailed(["None", "ConditionalCheckFailed"])
            self.docs.setdefault(document.claim_id, {})[document.document_id] = document
            self.claims[claim.claim_id] = claim.model_copy(update={"document_count": claim.document_count + 1})

    def verify(self, before: Claim, after: Claim, document: Document, events: Sequence[ClaimEvent] = ()) -> None:
        with self._lock:
            stored = self.docs.get(document.claim_id, {}).get(document.document_id)
            if stored is None or stored.status != "awaiting_upload":
                raise ConditionFailed(["ConditionalCheckFailed", "None"])
            self._check_claim(before)
            self.docs[document.claim_id][document.document_id] = document
            self._apply(before, after)
            self._add_events(events)

    def transition(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                   audit: StaffAudit | None = None) -> None:
        with self._lock:
            self._check_claim(before)
            self._apply(before, after)
            self._add_events(events)
            if audit is not None:
                self.audits.append(audit)

    def pay(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
            policy: ClaimPolicy, year_to_date_after: YearToDateFigures, paid_bills: Sequence[PaidBill],
            counter_op: TxOp | None, outcome: Outcome) -> None:
        with self._lock:
            self._check_claim(before)
            stored = self.policies.get(policy.policy_id)
            if stored is None or stored.version != policy.version:
                raise ConditionFailed(["ConditionalCheckFailed"])
            if any((m.policy_id, m.fingerprint) in self.markers for m in paid_bills) or \
                    (outcome.scope, outcome.key) in self.outcomes:
                raise ConditionFailed(["ConditionalCheckFailed"])
            self._apply(before, after)
            self._add_events(events)
            self.policies[policy.policy_id] = stored.model_copy(
                update={"year_to_date": year_to_date_after, "version": (stored.version or 0) + 1})
            for m in paid_bills:
                self.markers[(m.policy_id, m.fingerprint)] = m
            if counter_op is not None:
                self.counter_ops.append(counter_op)
            self.audits.append(audit)
            self._add_outcome(outcome)

    def reschedule(self, before: Claim, after: Claim) -> None:
        with self._lock:
            self._check_claim(before)
            self._apply(before, after)

    def release_payment(self, before: Claim, after: Claim, events: Sequence[ClaimEvent], audit: StaffAudit,
                        policy: ClaimPolicy, year_to_date_after: YearToDateFigures,
                        paid_bills: Sequence[PaidBill]) -> None:
        with self._lock:
            self._check_claim(before)
            stored = self.policies.get(policy.policy_id)
            if stored is None or stored.version != policy.version:
                raise ConditionFailed(["ConditionalCheckFailed"])
            if any((m.policy_id, m.fingerprint) in self.markers and
                   self.markers[(m.policy_id, m.fingerprint)].claim_id != m.claim_id for m in paid_bills):
                raise ConditionFailed(["ConditionalCheckFailed"])
            self._apply(before, after)
            self._add_events(events)
            self.policies[policy.policy_id] = stored.model_copy(
                update={"year_to_date": year_to_date_after, "version": (stored.version or 0) + 1})
            for m in paid_bills:
                self.markers.pop((m.policy_id, m.fingerprint), None)
            self.audits.append(audit)

    # 免申即享 and the payout
    def policies_of_insured(self, insured_hash: str) -> list[ClaimPolicy]:
        return sorted((p for p in self.policies.values() if p.insured_hash == insured_hash),
                      key=lambda p: (p.benefit_start, p.policy_id))

    def in_status(self, status: str) -> list[Claim]:
        return [c for _, c in self._queue(status)]

    def settlement(self, settlement_id: str) -> SettlementMark | None:
        return self.settlements.get(settlement_id)

    def mark_settlement(self, mark: SettlementMark) -> bool:
        with self._lock:
            if mark.settlement_id in self.settlements:
                return False
            self.settlements[mark.settlement_id] = mark
            return True

    def resolve_settlement(self, mark: SettlementMark, by: str, at: str) -> SettlementMark:
        with self._lock:
            stored = self.settlements.get(mark.settlement_id)
            if stored is None or stored.resolved_at is not None:
                raise ConditionFailed(["ConditionalCheckFailed"])
            after = stored.model_copy(update={"resolved_at": at, "resolved_by": by})
            self.settlements[mark.settlement_id] = after
            return after

    def settlement_reviews(self, limit: int) -> list[SettlementMark]:
        waiting = sorted((m for m in self.settlements.values() if m.outcome == "review" and m.resolved_at is None),
                         key=lambda m: (m.at, m.settlement_id))
        return waiting[:limit]

    def create_from_settlement(self, claim: Claim, events: Sequence[ClaimEvent], mark: SettlementMark,
                               payment: SettlementPayment | None = None) -> None:
        with self._lock:
            if claim.claim_id in self.claims or mark.settlement_id in self.settlements:
                raise ConditionFailed(["ConditionalCheckFailed"])
            if payment is not None:
                stored = self.policies.get(payment.policy.policy_id)
                if stored is None or stored.version != payment.policy.version or \
                        any((m.policy_id, m.fingerprint) in self.markers for m in payment.paid_bills):
                    raise ConditionFailed(["ConditionalCheckFailed"])
                self.policies[stored.policy_id] = stored.model_copy(
                    update={"year_to_date": payment.year_to_date_after, "version": (stored.version or 0) + 1})
                for m in payment.paid_bills:
                    self.markers[(m.policy_id, m.fingerprint)] = m
                self.audits.append(payment.audit)
            self.claims[claim.claim_id] = claim
            self._add_events(events)
            self.settlements[mark.settlement_id] = mark

    def settle_payout(self, before: Claim, after: Claim, events: Sequence[ClaimEvent],
                      counter_op: TxOp | None) -> None:
        with self._lock:
            self._check_claim(before)
            self._apply(before, after)
            self._add_events(events)
            if counter_op is not None:
                self.counter_ops.append(counter_op)
