"""Claim use cases (理赔, DOMAIN §7): submit, documents, withdraw, staff review, payment, and the views of a claim.

Every state change is ONE conditional write (TransactWriteItems): the claim's status and version are the condition,
so two reviewers can never both decide, a withdrawal cannot slip past a decision, and payment advances the policy's
year-to-date state exactly once (the policy's version is the condition; a conflict re-reads and recomputes).
The timeline entry (who, when, why), the staff audit entry and the idempotency record go into the same transaction.

Items (docs/access-patterns.md): Claim `CLAIM#{id}/CLAIM`, its documents `DOC#{id}`, its timeline `EVENT#{at}#{seq}`
in the same partition, so one query reads a whole claim. Ports are passed in (`ClaimPorts`); time comes in as `now`.
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.domain import benefits as engine
from chalicelib.domain import claims as rules
from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RuleViolation,
    UpstreamUnavailable,
)
from chalicelib.domain.messages import MESSAGES, message_for
from chalicelib.domain.plan import CATEGORIES
from chalicelib.services import access, disclosure, idempotency

BANK_ACCOUNT_CONTEXT = "bank_account"  # AES-GCM associated data for payee account numbers
MAX_DOCUMENTS_PER_CLAIM = 40
WRITE_ATTEMPTS = 5  # after a version conflict (payment, verification), re-read and redo at most this often
REVIEW_ROLES = frozenset({"claims_reviewer", "insurer_admin"})
PAY_ROLES = frozenset({"insurer_admin"})  # separation of duties: the reviewer who approves does not pay
NOTIFY_TEMPLATE = "claim_status_changed"
# GSI3 sort keys order the staff queue: claims awaiting a decision by deadline (so overdue ones lead), then approved
# claims awaiting payment by approval time (their decision is made: no longer "overdue"), then claims still waiting
# for documents. ASCII: digits < "}" < "~".
_AWAITING_PAYMENT = "}"
_NO_DEADLINE = "~"
_QUEUE_END = "~~"


@dataclass
class ClaimPorts:
    table: Table
    documents: Any  # adapters.documents.S3Documents
    notifier: Any  # adapters.notifications.RecordingNotifier | WeChatSubscribeNotifier
    cipher: Any  # adapters.crypto.FieldCipher


@dataclass(frozen=True)
class Actor:
    """Who changed a claim: `kind` member | staff | system; `role` insured | proxy | a staff role | system."""

    kind: str
    id: str
    role: str

    def item(self) -> dict[str, str]:
        return {"by_kind": self.kind, "by_id": self.id, "by_role": self.role}


SYSTEM = Actor("system", "system", "system")


# ---- bills and the benefit engine --------------------------------------------------------------------------------
def engine_bill(bill: dict[str, Any]) -> engine.Bill:
    """A bill in the API's shape (`service_date`, `setting`, `<category>_fen`) as the engine's Bill."""
    return engine.Bill(service_date=date.fromisoformat(str(bill["service_date"])), setting=bill["setting"],
                       amounts={c: int(bill.get(f"{c}_fen") or 0) for c in CATEGORIES})


def _ytd(policy: dict[str, Any]) -> engine.YearToDate:
    return engine.YearToDate(int(policy.get("ytd_deductible_used_fen") or 0), int(policy.get("ytd_eligible_fen") or 0),
                             int(policy.get("ytd_paid_fen") or 0))


def _ytd_dict(ytd: engine.YearToDate) -> dict[str, int]:
    return {"deductible_used_fen": ytd.deductible_used_fen, "eligible_fen": ytd.eligible_fen,
            "paid_fen": ytd.paid_fen}


def _check_bills_in_benefit_period(policy: dict[str, Any], bills: list[dict[str, Any]], today: date) -> None:
    """Every bill must fall in the policy's benefit period (待遇期) and not lie in the future (422 otherwise)."""
    start, end = date.fromisoformat(policy["benefit_start"]), date.fromisoformat(policy["coverage_end"])
    for index, bill in enumerate(bills):
        day = date.fromisoformat(str(bill["service_date"]))
        if day > today:
            raise RuleViolation("CLAIM_BILL_IN_FUTURE", field=f"bills.{index}.service_date", index=index + 1,
                                service_date=day.isoformat())
        if not start <= day <= end:
            raise RuleViolation("CLAIM_BILL_OUTSIDE_BENEFIT_PERIOD", field=f"bills.{index}.service_date",
                                index=index + 1, service_date=day.isoformat(), benefit_start=start.isoformat(),
                                coverage_end=end.isoformat())


def _compute(policy: dict[str, Any], bills: list[dict[str, Any]], ytd: engine.YearToDate) -> engine.Estimate:
    """The engine on the policy's benefit period, minus the insured's basic-insurance suspensions (DOMAIN §2.4, §4.5)
    as the 医保 platform reports them now. Money follows this figure, so a platform outage is a 503, not a guess."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.plans import get_plan
    from chalicelib.services.estimates import insured_exclusions

    plan = get_plan(policy["plan_id"])
    period = engine.BenefitPeriod(date.fromisoformat(policy["benefit_start"]),
                                  date.fromisoformat(policy["coverage_end"]))
    try:
        excluded = insured_exclusions(policy, plan)
    except (PlatformUnavailable, PlatformError):
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="医保信息平台") from None
    return engine.compute(plan.benefits, ytd, [engine_bill(b) for b in bills], benefit_period=period,
                          excluded_periods=excluded)


def bill_fingerprint(bill: dict[str, Any]) -> str:
    """What identifies a settlement slip's figures: service date, setting and every amount."""
    import hashlib

    facts = [str(bill["service_date"]), bill["setting"]] + [str(int(bill.get(f"{c}_fen") or 0)) for c in CATEGORIES]
    return hashlib.sha256("|".join(facts).encode()).hexdigest()[:32]


def _check_bills_not_paid(table: Table, claim: dict[str, Any], bills: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The same bill may be paid once per policy (DOMAIN §5: the year-to-date state would count it twice). Returns
    the markers the paying transaction puts (attribute_not_exists); 409 naming the bill if one was paid already."""
    markers: list[dict[str, str]] = []
    for index, bill in enumerate(bills):
        marker = keys.paid_bill(claim["policy_id"], bill_fingerprint(bill))
        if marker in markers:
            raise Conflict("CLAIM_BILL_REPEATED", field=f"bills.{index}", index=index + 1,
                           first=markers.index(marker) + 1)
        markers.append(marker)
    for found in table.batch_get(markers) if markers else []:
        if found.get("claim_id") != claim["claim_id"]:
            index = markers.index({"PK": found["PK"], "SK": found["SK"]})
            raise Conflict("CLAIM_BILL_ALREADY_PAID", field=f"bills.{index}", index=index + 1,
                           other_claim_id=found["claim_id"])
    return markers


def _bill_results(estimate: engine.Estimate) -> list[dict[str, Any]]:
    return [{"covered_fen": r.covered_fen, "deductible_applied_fen": r.deductible_applied_fen,
             "eligible_fen": r.eligible_fen, "payout_fen": r.payout_fen, "explanation": list(r.explanation)}
            for r in estimate.bills]


# ---- loading with access rules -----------------------------------------------------------------------------------
def require_plan_city(principal, plan_id: str) -> None:
    from chalicelib.api.auth import require_plan_city as check  # staff act only for their cities (issue #10)

    check(principal, plan_id)


def _claim_or_404(table: Table, claim_id: str) -> dict[str, Any]:
    claim = table.get(keys.claim(claim_id))
    if claim is None:
        raise NotFound("CLAIM_NOT_FOUND")
    return claim


def _claimant_side(table: Table, principal, claim: dict[str, Any]) -> Actor:
    """The member acting on a claim must be its insured or hold the insured's `claims` authorisation; anyone else
    (including a payer without it) gets 404, as if the claim did not exist."""
    try:
        _, roles = access.load_policy(table, principal, claim["policy_id"], need="claims")
    except NotFound:
        raise NotFound("CLAIM_NOT_FOUND") from None
    return Actor("member", principal.account_id, "insured" if "insured" in roles else "proxy")


def _staff(principal, allowed: Iterable[str] | None = None) -> Actor:
    if allowed is not None and principal.role not in allowed:
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    return Actor("staff", principal.subject, principal.role)


def load_for_member(table: Table, principal, claim_id: str) -> tuple[dict[str, Any], Actor]:
    claim = _claim_or_404(table, claim_id)
    return claim, _claimant_side(table, principal, claim)


# ---- items ---------------------------------------------------------------------------------------------------------
def _queue_sort(claim: dict[str, Any], status: str, now: datetime) -> str:
    if status == "approved":
        return f"{_AWAITING_PAYMENT}{iso(now)}#{claim['claim_id']}"
    if status == "paid":
        return claim["GSI3SK"]  # stays in approval order
    return f"{claim.get('decision_due') or _NO_DEADLINE}#{claim['claim_id']}"


def _event(claim_id: str, version: int, status: str, actor: Actor, now: datetime, note: str | None) -> TxOp:
    at = iso(now)
    return TxOp.put({**keys.claim_event(claim_id, at, version), "status": status, "at": at, "note": note,
                     **actor.item()})


def _audit(claim_id: str, version: int, actor: Actor, now: datetime, action: str, **facts: Any) -> TxOp:
    at = iso(now)
    return TxOp.put({**keys.audit(f"CLAIM#{claim_id}", at, f"{version:04d}"), "claim_id": claim_id, "at": at,
                     "action": action, "staff_id": actor.id, "role": actor.role,
                     **{k: v for k, v in facts.items() if v is not None}})


def _transition_ops(claim: dict[str, Any], path: list[str], actor: Actor, now: datetime, note: str | None,
                    set_fields: dict[str, Any] | None = None) -> tuple[list[TxOp], int]:
    """The conditional claim update and one timeline entry per state passed through. Returns (ops, new version)."""
    version = int(claim["version"])
    new_version = version + len(path)
    target = path[-1]
    fields = {"status": target, "version": new_version, "updated_at": iso(now),
              **keys.gsi_status("CLAIM", target, _queue_sort(claim, target, now)),
              **(set_fields or {})}
    if note is not None:
        fields["member_note"] = note
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    names["#status"], names["#version"] = "status", "version"
    values[":from"], values[":version"] = claim["status"], version
    ops = [TxOp.update_item(keys.claim(claim["claim_id"]), update, condition="#status = :from AND #version = :version",
                            names=names, values=values)]
    for step, status in enumerate(path, start=1):
        step_note = note if status == target else None
        ops.append(_event(claim["claim_id"], version + step, status, actor, now, step_note))
    return ops, new_version


# ---- submission ----------------------------------------------------------------------------------------------------
def submit(ports: ClaimPorts, principal, policy_id: str, bills: list[dict[str, Any]], payee: dict[str, str],
           idempotency_key: str, request_hash: str, now: datetime) -> tuple[int, dict[str, Any]]:
    """POST /v1/claims by the insured or an account holding their `claims` authorisation."""
    table = ports.table
    scope = f"{principal.account_id}#claims.submit"
    done = idempotency.lookup(table, scope, idempotency_key, request_hash)
    if done is not None:
        return done["status"], done["body"]
    policy, roles = access.load_policy(table, principal, policy_id, need="claims")
    actor = Actor("member", principal.account_id, "insured" if "insured" in roles else "proxy")
    claim = create_claim(ports, policy, actor, bills, payee, now, requires_documents=True,
                         extra_ops=lambda view: [idempotency.completed_op(scope, idempotency_key, request_hash, now,
                                                                          201, view, resource_id=view["claim_id"])])
    return 201, claim


def create_claim(ports: ClaimPorts, policy: dict[str, Any], actor: Actor, bills: list[dict[str, Any]],
                 payee: dict[str, str] | None, now: datetime, *, requires_documents: bool,
                 extra_ops: Callable[[dict[str, Any]], list[TxOp]] = lambda view: []) -> dict[str, Any]:
    """Create a claim in one transaction and return its view. A system actor (免申即享, settlement records pushed by
    the 医保 platform) creates claims with `requires_documents=False`: they are complete at once."""
    if policy.get("status", "active") != "active":
        raise RuleViolation("CLAIM_POLICY_INACTIVE", status=policy.get("status"))
    _check_bills_in_benefit_period(policy, bills, now.date())
    estimate = _compute(policy, bills, _ytd(policy))
    claim_id = uuid.uuid4().hex
    submitted_at = iso(now)
    item: dict[str, Any] = {
        **keys.claim(claim_id), "claim_id": claim_id, "policy_id": policy["policy_id"], "plan_id": policy["plan_id"],
        "insured_hash": policy["insured_hash"], "insured_name": policy.get("insured_name"),
        "claimant_kind": actor.kind, "claimant_account_id": actor.id if actor.kind == "member" else None,
        "claimant_role": actor.role, "status": "submitted", "version": 1, "bills": bills,
        "estimate_fen": estimate.payout_fen, "estimate_ytd_before": _ytd_dict(estimate.year_to_date_before),
        "requires_documents": requires_documents, "document_count": 0, "submitted_at": submitted_at,
        "updated_at": submitted_at,
        **keys.gsi_person(policy["insured_hash"], f"CLAIM#{submitted_at}#{claim_id}"),
    }
    if actor.kind == "member":
        item.update(keys.gsi_account(actor.id, f"CLAIM#{submitted_at}#{claim_id}"))
    if payee is not None:
        item["payee"] = {"account_name": payee["account_name"], "bank_name": payee["bank_name"],
                         "account_number_masked": rules.mask_account_number(payee["account_number"])}
        item["payee_account_enc"] = ports.cipher.encrypt(payee["account_number"], BANK_ACCOUNT_CONTEXT)
    if not requires_documents:
        item.update(_completion_fields(now))
    item.update(keys.gsi_status("CLAIM", "submitted", _queue_sort(item, "submitted", now)))
    event = _event(claim_id, 1, "submitted", actor, now, None)
    view = claim_view(ports, item, [], [event.item], for_staff=False, today=now.date(), estimate=estimate)
    ports.table.transact([TxOp.put(item), event, *extra_ops(view)])
    _notify(ports, item, "submitted", None)
    return view


def _completion_fields(now: datetime) -> dict[str, Any]:
    deadline = rules.decision_due(now.date())
    return {"completed_at": iso(now), "decision_due": deadline.due.isoformat(),
            "decision_due_estimated": deadline.estimated}


# ---- documents -----------------------------------------------------------------------------------------------------
def add_document(ports: ClaimPorts, principal, claim_id: str, kind: str, content_type: str, size_bytes: int,
                 now: datetime) -> dict[str, Any]:
    """Register one document of a declared kind and hand out a pre-signed POST for exactly that object."""
    claim, actor = load_for_member(ports.table, principal, claim_id)
    if claim["status"] not in rules.BEFORE_DECISION:
        raise rules.state_conflict(claim["status"], "documents")
    max_bytes = ports.documents.max_bytes
    if size_bytes > max_bytes:
        raise RuleViolation("DOCUMENT_TOO_LARGE", field="size_bytes", max_mb=max_bytes // (1024 * 1024),
                            max_bytes=max_bytes)
    document_id = uuid.uuid4().hex
    s3_key = f"claims/{claim_id}/{secrets.token_urlsafe(24)}"  # unguessable; not derivable from the document id
    doc = {**keys.claim_document(claim_id, document_id), "document_id": document_id, "claim_id": claim_id,
           "kind": kind, "content_type": content_type, "size_bytes": size_bytes, "s3_key": s3_key,
           "status": "awaiting_upload", "created_at": iso(now), **actor.item()}
    try:
        ports.table.transact([
            TxOp.put(doc),
            TxOp.update_item(keys.claim(claim_id), "ADD document_count :one",
                             condition="#status IN (:s1, :s2, :s3) AND document_count < :max",
                             names={"#status": "status"},
                             values={":one": 1, ":s1": "submitted", ":s2": "under_review", ":s3": "need_more_info",
                                     ":max": MAX_DOCUMENTS_PER_CLAIM}),
        ])
    except ConditionFailed:
        current = _claim_or_404(ports.table, claim_id)
        if current["status"] not in rules.BEFORE_DECISION:
            raise rules.state_conflict(current["status"], "documents") from None
        raise RuleViolation("TOO_MANY_DOCUMENTS", max=MAX_DOCUMENTS_PER_CLAIM) from None
    form = ports.documents.upload_form(s3_key, content_type, size_bytes)
    return {**_document_view(ports, doc, with_url=False),
            "upload": {"method": "POST", "url": form.url, "fields": form.fields, "expires_in": form.expires_in}}


def verify_document(ports: ClaimPorts, principal, claim_id: str, document_id: str, now: datetime) -> dict[str, Any]:
    """Check the uploaded object against its declaration (exists, type, exact size, the limit). A mismatch rejects
    the document with a reason; a verified invoice + settlement slip completes the claim and starts its deadline.

    The claim's version is the condition of every verification, so two documents verified at the same moment
    cannot both miss that the claim just became complete."""
    table = ports.table
    load_for_member(table, principal, claim_id)
    for _ in range(WRITE_ATTEMPTS):
        claim = _claim_or_404(table, claim_id)
        docs = [i for i in table.query_all(schema.PARTITION_KEY, keys.claim(claim_id)["PK"], sk_prefix="DOC#")]
        doc = next((d for d in docs if d["document_id"] == document_id), None)
        if doc is None:
            raise NotFound("DOCUMENT_NOT_FOUND")
        if doc["status"] != "awaiting_upload":
            return _document_view(ports, doc, with_url=True)  # already decided: verifying again changes nothing
        if claim["status"] not in rules.BEFORE_DECISION:
            raise rules.state_conflict(claim["status"], "documents")
        stored = ports.documents.head(doc["s3_key"])
        if stored is None:
            raise RuleViolation("DOCUMENT_NOT_UPLOADED")
        problem = rules.upload_problem(doc["content_type"], int(doc["size_bytes"]), stored.content_type,
                                       stored.size_bytes, ports.documents.max_bytes)
        doc_fields = {"status": "rejected" if problem else "verified", "verified_at": iso(now),
                      "reason_code": problem}
        ops = [TxOp.update_item(keys.claim_document(claim_id, document_id),
                                "SET #status = :s, verified_at = :at" + (", reason_code = :r" if problem else ""),
                                condition="#status = :awaiting", names={"#status": "status"},
                                values={":s": doc_fields["status"], ":at": doc_fields["verified_at"],
                                        ":awaiting": "awaiting_upload", **({":r": problem} if problem else {})})]
        claim_update, claim_values = "SET #version = #version + :one", {":one": 1, ":v": int(claim["version"])}
        states = [rules.DocumentState(d["kind"], d["status"]) for d in docs if d["document_id"] != document_id]
        states.append(rules.DocumentState(doc["kind"], doc_fields["status"]))
        completes = (not problem and "completed_at" not in claim and not rules.missing_for_completeness(states)
                     and claim["status"] in rules.BEFORE_DECISION)
        if completes:
            completion = _completion_fields(now)
            claim_update += (", completed_at = :c, decision_due = :d, decision_due_estimated = :e, GSI3SK = :q")
            claim_values.update({":c": completion["completed_at"], ":d": completion["decision_due"],
                                 ":e": completion["decision_due_estimated"],
                                 ":q": _queue_sort({**claim, **completion}, claim["status"], now)})
        ops.append(TxOp.update_item(keys.claim(claim_id), claim_update, condition="#version = :v",
                                    names={"#version": "version"}, values=claim_values))
        try:
            table.transact(ops)
        except ConditionFailed:
            continue  # another document of this claim was verified meanwhile: re-read and decide again
        return _document_view(ports, {**doc, **{k: v for k, v in doc_fields.items() if v is not None}},
                              with_url=True)
    raise Conflict("CLAIM_BUSY")


def _document_view(ports: ClaimPorts, doc: dict[str, Any], with_url: bool) -> dict[str, Any]:
    view = {"document_id": doc["document_id"], "kind": doc["kind"], "content_type": doc["content_type"],
            "size_bytes": int(doc["size_bytes"]), "status": doc["status"], "created_at": doc["created_at"],
            "verified_at": doc.get("verified_at")}
    if doc.get("reason_code"):
        view["reason"] = message_for(doc["reason_code"], max_mb=ports.documents.max_bytes // (1024 * 1024))
    if with_url and doc["status"] != "awaiting_upload":
        from chalicelib.adapters.documents import DOWNLOAD_EXPIRES_SECONDS

        view["download"] = {"url": ports.documents.download_url(doc["s3_key"]),
                            "expires_in": DOWNLOAD_EXPIRES_SECONDS}
    return view


# ---- views ---------------------------------------------------------------------------------------------------------
def _read_whole_claim(table: Table, claim_id: str) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """The claim, its documents and its timeline in one query (they share a partition)."""
    items = list(table.query_all(schema.PARTITION_KEY, keys.claim(claim_id)["PK"]))
    claim = next((i for i in items if i["SK"] == "CLAIM"), None)
    if claim is None:
        raise NotFound("CLAIM_NOT_FOUND")
    docs = [i for i in items if i["SK"].startswith("DOC#")]
    events = [i for i in items if i["SK"].startswith("EVENT#")]
    return claim, sorted(docs, key=lambda d: d["created_at"]), sorted(events, key=lambda e: e["SK"])


def get_for_member(ports: ClaimPorts, principal, claim_id: str, today: date) -> dict[str, Any]:
    claim, docs, events = _read_whole_claim(ports.table, claim_id)
    _claimant_side(ports.table, principal, claim)
    return claim_view(ports, claim, docs, events, for_staff=False, today=today)


def get_for_staff(ports: ClaimPorts, principal, claim_id: str, today: date) -> dict[str, Any]:
    _staff(principal)
    claim, docs, events = _read_whole_claim(ports.table, claim_id)
    require_plan_city(principal, claim["plan_id"])
    return claim_view(ports, claim, docs, events, for_staff=True, today=today)


def _deadline_view(claim: dict[str, Any], today: date) -> dict[str, Any]:
    due = claim.get("decision_due")
    if due is None:
        note = MESSAGES["CLAIM_DEADLINE_NOT_STARTED"] if claim["status"] in rules.BEFORE_DECISION else None
        return {"decision_due": None, "decision_due_estimated": False, "decision_due_note": note, "overdue": False}
    estimated = bool(claim.get("decision_due_estimated"))
    note = message_for("CLAIM_DEADLINE_ESTIMATED" if estimated else "CLAIM_DEADLINE", due=due)
    overdue = claim["status"] in rules.BEFORE_DECISION and date.fromisoformat(due) < today
    return {"decision_due": due, "decision_due_estimated": estimated, "decision_due_note": note, "overdue": overdue}


def _timeline_entry(event: dict[str, Any], for_staff: bool) -> dict[str, Any]:
    entry = {"status": event["status"], "status_zh": MESSAGES[f"CLAIM_STATUS_{event['status'].upper()}"],
             "at": event["at"], "by": event["by_role"], "note": event.get("note")}
    if for_staff:
        entry["by_id"] = event["by_id"]
    return entry


def claim_summary(claim: dict[str, Any], today: date) -> dict[str, Any]:
    return {"claim_id": claim["claim_id"], "policy_id": claim["policy_id"], "plan_id": claim["plan_id"],
            "status": claim["status"], "status_zh": MESSAGES[f"CLAIM_STATUS_{claim['status'].upper()}"],
            "submitted_at": claim["submitted_at"], "estimate_fen": int(claim["estimate_fen"]),
            "approved_fen": claim.get("approved_fen"), "paid_fen": claim.get("paid_fen"),
            "claimant": claim["claimant_role"], **_deadline_view(claim, today)}


def claim_view(ports: ClaimPorts, claim: dict[str, Any], docs: list[dict], events: list[dict], *, for_staff: bool,
               today: date, estimate: engine.Estimate | None = None) -> dict[str, Any]:
    from chalicelib.domain.masking import mask_name

    view = claim_summary(claim, today)
    states = [rules.DocumentState(d["kind"], d["status"]) for d in docs]
    view.update({
        "insured_name_masked": mask_name(claim.get("insured_name") or ""),
        "bills": claim["bills"], "payee": claim.get("payee"),
        "estimate_ytd_before": claim.get("estimate_ytd_before"),
        "reviewed_bills": claim.get("reviewed_bills"), "approved_at": claim.get("approved_at"),
        "paid_at": claim.get("paid_at"), "ytd_before_payment": claim.get("ytd_before_payment"),
        "ytd_after_payment": claim.get("ytd_after_payment"), "member_note": claim.get("member_note"),
        "completed_at": claim.get("completed_at"),
        "missing_documents": rules.missing_for_completeness(states) if claim.get("requires_documents") else [],
        "documents": [_document_view(ports, d, with_url=True) for d in docs],
        "timeline": [_timeline_entry(e, for_staff) for e in events],
    })
    if estimate is not None:
        view["estimate_bills"] = _bill_results(estimate)
    return view


def list_for_member(table: Table, principal, today: date) -> list[dict[str, Any]]:
    """Claims of the insured persons the caller may handle: themselves, and everyone who granted them `claims`."""
    account = access.account_of(table, principal)
    persons = set()
    if account.get("person_hash"):
        persons.add(account["person_hash"])
    if account.get("phone"):
        pk_name, _ = schema.GSIS[schema.GSI_BY_GRANTEE]
        for grant in table.query_all(pk_name, keys.gsi_grantee(account["phone"], "")["GSI4PK"],
                                     index=schema.GSI_BY_GRANTEE, sk_prefix="AUTHZ#", sk_name="GSI4SK"):
            if grant.get("status") == "active" and "claims" in grant.get("scopes", []):
                persons.add(grant["grantor_hash"])
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
    claims = [c for person in persons
              for c in table.query_all(pk_name, keys.gsi_person(person, "")["GSI1PK"], index=schema.GSI_BY_PERSON,
                                       sk_name=sk_name, sk_prefix="CLAIM#")]
    claims.sort(key=lambda c: c["submitted_at"], reverse=True)
    return [claim_summary(c, today) for c in claims]


# ---- withdrawal ----------------------------------------------------------------------------------------------------
def withdraw(ports: ClaimPorts, principal, claim_id: str, reason: str | None, now: datetime) -> dict[str, Any]:
    claim, actor = load_for_member(ports.table, principal, claim_id)
    if not rules.can_withdraw(claim["status"]):
        raise rules.state_conflict(claim["status"], "withdrawn")
    ops, _ = _transition_ops(claim, ["withdrawn"], actor, now, reason)
    _commit(ports.table, ops)
    _notify(ports, claim, "withdrawn", reason)
    return get_for_member(ports, principal, claim_id, now.date())


def _commit(table: Table, ops: list[TxOp]) -> None:
    try:
        table.transact(ops)
    except ConditionFailed:
        raise Conflict("CLAIM_CHANGED") from None


# ---- staff ---------------------------------------------------------------------------------------------------------
def review(ports: ClaimPorts, principal, claim_id: str, decision: str, bills: list[dict[str, Any]] | None,
           reason: str | None, now: datetime) -> dict[str, Any]:
    """Approve (reviewed bill amounts → the engine on the policy's year-to-date state now), reject, or ask for more.

    Acting on a `submitted` or `need_more_info` claim records `under_review` first. The claim must be complete."""
    actor = _staff(principal, REVIEW_ROLES)
    table = ports.table
    claim = _claim_or_404(table, claim_id)
    require_plan_city(principal, claim["plan_id"])
    if decision != "approve" and not (reason or "").strip():
        raise BadRequest("CLAIM_REASON_REQUIRED", field="reason")
    if claim["status"] in rules.BEFORE_DECISION and "completed_at" not in claim:
        docs = table.query_all(schema.PARTITION_KEY, keys.claim(claim_id)["PK"], sk_prefix="DOC#")
        missing = rules.missing_for_completeness([rules.DocumentState(d["kind"], d["status"]) for d in docs])
        raise RuleViolation("CLAIM_INCOMPLETE", missing=missing, missing_zh="、".join(
            MESSAGES[f"DOCUMENT_KIND_{k.upper()}"] for k in missing))
    path = rules.path_to(claim["status"], rules.status_after(decision))
    fields: dict[str, Any] = {}
    facts: dict[str, Any] = {"decision": decision, "reason": reason}
    if decision == "approve":
        reviewed = bills if bills is not None else claim["bills"]
        policy = table.get(keys.policy(claim["policy_id"]))
        if policy is None:
            raise NotFound("POLICY_NOT_FOUND")
        _check_bills_in_benefit_period(policy, reviewed, now.date())
        _check_bills_not_paid(table, claim, reviewed)
        estimate = _compute(policy, reviewed, _ytd(policy))
        fields = {"reviewed_bills": reviewed, "approved_fen": estimate.payout_fen, "approved_at": iso(now),
                  "approved_by": actor.id,
                  "approved_ytd_before": _ytd_dict(estimate.year_to_date_before)}
        facts["approved_fen"] = estimate.payout_fen
    note = reason.strip() if reason and reason.strip() else None
    ops, version = _transition_ops(claim, path, actor, now, note, fields)
    ops.append(_audit(claim_id, version, actor, now, "review", **facts))
    _commit(table, ops)
    _notify(ports, claim, path[-1], note)
    return get_for_staff(ports, principal, claim_id, now.date())


def pay(ports: ClaimPorts, principal, claim_id: str, idempotency_key: str, now: datetime) -> tuple[int, dict]:
    """Mark an approved claim paid and advance the policy's year-to-date state, in one transaction.

    The payout is recomputed on the policy's year-to-date state *now* (another claim of the policy may have been
    paid since approval) and both figures are kept. The policy's version is the condition: when a concurrent
    payment moved it, re-read and recompute (bounded). The plan's disclosure counters move in the same transaction."""
    from chalicelib.plans import get_plan

    actor = _staff(principal, PAY_ROLES)
    require_plan_city(principal, _claim_or_404(ports.table, claim_id)["plan_id"])
    table = ports.table
    scope = f"STAFF#{actor.id}#claims.pay"
    request_hash = idempotency.body_hash({"claim_id": claim_id})
    for _ in range(WRITE_ATTEMPTS):
        done = idempotency.lookup(table, scope, idempotency_key, request_hash)
        if done is not None:
            return done["status"], done["body"]
        claim = _claim_or_404(table, claim_id)
        if claim["status"] != "approved":
            if claim["status"] == "paid":
                raise Conflict("CLAIM_ALREADY_PAID")
            raise rules.state_conflict(claim["status"], "paid")
        if claim.get("approved_by") == actor.id:  # separation of duties: who approved does not pay
            raise Forbidden("CLAIM_PAYER_IS_APPROVER")
        markers = _check_bills_not_paid(table, claim, claim["reviewed_bills"])
        policy = table.get(keys.policy(claim["policy_id"]))
        if policy is None:
            raise NotFound("POLICY_NOT_FOUND")
        estimate = _compute(policy, claim["reviewed_bills"], _ytd(policy))
        after = estimate.year_to_date_after
        fields = {"paid_fen": estimate.payout_fen, "paid_at": iso(now),
                  "ytd_before_payment": _ytd_dict(estimate.year_to_date_before), "ytd_after_payment": _ytd_dict(after)}
        ops, version = _transition_ops(claim, ["paid"], actor, now, None, fields)
        ops.append(_advance_policy(policy, after))
        ops += [TxOp.put({**marker, "claim_id": claim_id, "paid_at": iso(now)}) for marker in markers]
        ops.append(disclosure.claim_paid_op(get_plan(policy["plan_id"]), policy, claim_id, estimate.payout_fen))
        ops.append(_audit(claim_id, version, actor, now, "pay", paid_fen=estimate.payout_fen,
                          approved_fen=claim.get("approved_fen"), policy_version=int(policy.get("version") or 0) + 1))
        view = {**claim_summary({**claim, **fields, "status": "paid"}, now.date()),
                "ytd_before_payment": fields["ytd_before_payment"], "ytd_after_payment": fields["ytd_after_payment"]}
        ops.append(idempotency.completed_op(scope, idempotency_key, request_hash, now, 200, view,
                                            resource_id=claim_id))
        try:
            table.transact(ops)
        except ConditionFailed:
            continue  # the policy (or the claim) moved: re-read both and recompute
        _notify(ports, claim, "paid", None)
        return 200, view
    raise Conflict("CLAIM_BUSY")


def _advance_policy(policy: dict[str, Any], after: engine.YearToDate) -> TxOp:
    version = policy.get("version")
    values: dict[str, Any] = {":d": after.deductible_used_fen, ":e": after.eligible_fen, ":p": after.paid_fen,
                              ":next": int(version or 0) + 1}
    if version is None:
        condition = "attribute_exists(PK) AND attribute_not_exists(#version)"
    else:
        condition, values[":read"] = "#version = :read", int(version)
    return TxOp.update_item(keys.policy(policy["policy_id"]),
                            "SET ytd_deductible_used_fen = :d, ytd_eligible_fen = :e, ytd_paid_fen = :p, "
                            "#version = :next", condition=condition, names={"#version": "version"}, values=values)


def staff_queue(table: Table, principal, status: str | None, limit: int, cursor: str | None,
                today: date) -> dict[str, Any]:
    """GET /v1/admin/claims: claims by status (default: every open one). Claims awaiting a decision come by deadline,
    oldest first, so overdue ones lead; then approved claims awaiting payment, oldest approval first; then claims
    still waiting for documents. Paged by an opaque cursor (the last sort key returned)."""
    _staff(principal)
    statuses = [status] if status else list(rules.OPEN_STATUSES)
    after = _decode_cursor(cursor) if cursor else None
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_STATUS]
    page: list[dict[str, Any]] = []
    for s in statuses:
        # limit + 1 from each status: the merged first `limit` are then exact, and one more tells a next page exists.
        window = {"sk_between": (after + "\x00", _QUEUE_END)} if after else {}  # strictly after the cursor
        items, _ = table.query(pk_name, keys.gsi_status("CLAIM", s, "")["GSI3PK"], index=schema.GSI_BY_STATUS,
                               sk_name=sk_name, limit=limit + 1, **window)
        page.extend(items)
    page.sort(key=lambda c: c["GSI3SK"])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [staff_summary(c, today) for c in page],
            "next": _encode_cursor(page[-1]["GSI3SK"]) if more else None}


def overdue_claims(table: Table, today: date) -> list[dict[str, Any]]:
    """Claims still awaiting a decision whose 15-working-day deadline (decision_due) is before `today`, oldest first.
    Read from the staff queue's sort keys (`{decision_due}#{claim_id}`), so no scan."""
    pk_name, sk_name = schema.GSIS[schema.GSI_BY_STATUS]
    found: list[dict[str, Any]] = []
    for status in rules.BEFORE_DECISION:
        found += table.query_all(pk_name, keys.gsi_status("CLAIM", status, "")["GSI3PK"], index=schema.GSI_BY_STATUS,
                                 sk_name=sk_name, sk_between=("0000-00-00", today.isoformat()))
    return sorted(found, key=lambda c: c["GSI3SK"])


def staff_summary(claim: dict[str, Any], today: date) -> dict[str, Any]:
    from chalicelib.domain.masking import mask_name

    return {**claim_summary(claim, today), "insured_name_masked": mask_name(claim.get("insured_name") or "")}


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": sort_key}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if not isinstance(after, str) or not after or len(after) > 200:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("BAD_QUERY_PARAMETER", field="cursor") from None


# ---- notifications -------------------------------------------------------------------------------------------------
def _notify(ports: ClaimPorts, claim: dict[str, Any], status: str, note: str | None) -> None:
    """Tell the claimant (and the insured, when someone else claimed for them) that the status changed. The notice
    names the claim and its status only — no bill, amount of care, or bank detail."""
    from chalicelib.observability import logger

    try:
        recipients = [claim["claimant_account_id"]] if claim.get("claimant_account_id") else []
        binding = ports.table.get(keys.identity_binding(claim["insured_hash"]))
        if binding and binding.get("account_id"):
            recipients.append(binding["account_id"])
        data = {"claim_id": claim["claim_id"], "status": status,
                "status_zh": MESSAGES[f"CLAIM_STATUS_{status.upper()}"], "note": note or ""}
        for account_id in dict.fromkeys(recipients):
            ports.notifier.notify(account_id, NOTIFY_TEMPLATE, data)
    except Exception as exc:  # noqa: BLE001 — the status change is committed; a notice must never undo or fail it
        logger().warning("claim notification not sent", extra={"error_type": type(exc).__name__})
