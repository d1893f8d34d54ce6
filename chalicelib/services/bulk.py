"""Bulk enrolment (DOMAIN §10): a bureau's subsidised list or an organisation's collective purchase, accepted in
one request and worked row by row on the fan-out queue (services/fanout.py, job `bulk_enrolment`).

    POST   create()  → checks, screens every row (no platform), stores the rows in chunks, the batch and the
                       idempotency answer, then starts the `screen` run (subsidy: screen and issue in one pass)
    worker handle_row() per (batch, row), exactly once: the row's outcome item is written with
                       attribute_not_exists in the same transaction as whatever the row does
    POST   confirm_payment() (collective) → a second staff member; the `issue` run issues the ELIGIBLE rows
    GET    view()    → status (moved on when every row is settled), counts, refused rows paged / as CSV

Why the rows live in chunk items rather than only in the queue's messages: the fan-out's `enqueue(run)` pages a
job's items from storage given small params (the batch id); the collective list is needed again after the transfer
is confirmed; and an interrupted run is resumed by running the job again over the same rows.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.dynamodb import ConditionFailed, Table
from chalicelib.adapters.repositories.bulk import BulkRepository
from chalicelib.adapters.repositories.idempotency import IdempotencyStore
from chalicelib.adapters.repositories.job_runs import JobRunStore
from chalicelib.adapters.repositories.policies import PolicyRepository
from chalicelib.domain import bulk as rules
from chalicelib.domain.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from chalicelib.domain.messages import term
from chalicelib.domain.order import CoverMarker
from chalicelib.domain.order_lifecycle import COVER_ISSUED
from chalicelib.domain.plan import Plan
from chalicelib.services.fanout import FanoutPorts, Job, RunContext, WorkItem, get_run
from chalicelib.services.fanout import start as start_run

JOB = "bulk_enrolment"
SCOPE = "bulk-enrolments"
_batch_cache: dict[str, rules.Batch] = {}  # the fields a row needs never change once the batch is stored


class BulkRuns(Protocol):
    """The fan-out runs of the bulk job: one per batch and phase (`read` the file, `screen` the rows, `issue`)."""

    def exists(self, run_id: str) -> bool: ...

    def start(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Start the run: its items go on the job queue and the SQS worker works them after this returns.
        ConditionFailed when a run of this id exists (a concurrent duplicate started it)."""


@dataclass
class BulkPorts:
    """Everything the bulk use cases need, built by the composition root (`deps.bulk_ports()`)."""

    table: Table
    platform: Any
    cipher: Any
    batches: BulkRepository
    orders: Any  # the orders repository: a takeover refunds the member's order through it (DOMAIN §10.4)
    policies: PolicyRepository
    uploads: Any  # uploaded list files (adapters/list_uploads.py)
    runs: BulkRuns
    idempotency: IdempotencyStore  # the answers of POST /v1/admin/bulk-enrolments, by Idempotency-Key
    wechat: Any = None  # refunds of self-paid premiums the government takes over (DOMAIN §10.4)


@dataclass(frozen=True)
class FanoutRuns:
    """BulkRuns on the fan-out (services/fanout.py). `fanout()` builds the fan-out's ports (the job queue among
    them) only when a run is started."""

    runs: JobRunStore
    fanout: Callable[[], FanoutPorts]

    def exists(self, run_id: str) -> bool:
        return get_run(self.runs, run_id) is not None

    def start(self, run_id: str, params: Mapping[str, Any]) -> None:
        start_run(self.fanout(), JOB, params=dict(params), run_id=run_id)


def job(ports: Callable[[], BulkPorts]) -> Job:
    """The fan-out job `bulk_enrolment` over these ports: a batch's rows (or its file) and their handler."""
    return Job(JOB, enqueue=lambda context: enqueue(ports(), context), handle=lambda item: handle_row(ports(), item),
               description="Bulk enrolment (DOMAIN §10): one list row, exactly once per batch and phase")


def _plan(plan_id: str) -> Plan:
    from chalicelib.plans import get_plan

    return get_plan(plan_id)


# ---- who may act ---------------------------------------------------------------------------------------------
def check_staff(principal, plan: Plan, funding: str) -> None:
    """`bureau` for subsidised lists, `insurer_admin` for collective ones, each only for their own cities."""
    role = rules.ROLE_FOR_FUNDING[funding]
    if principal is None or not principal.is_staff or principal.role != role:
        raise Forbidden("BULK_ROLE_FOR_FUNDING", funding_zh=rules.FUNDING_ZH[funding], role_zh=rules.ROLE_ZH[role])
    if not principal.acts_for(plan.city):
        raise Forbidden("BULK_CITY_FORBIDDEN", city_name=plan.city_name)


# ---- POST /v1/admin/bulk-enrolments --------------------------------------------------------------------------
def batch_id_for(principal, idempotency_key: str) -> str:
    """Derived from the caller and the key: a retried request (even one cut off half way) names the same batch."""
    digest = hashlib.sha256(f"{principal.subject}\x00{idempotency_key}".encode()).hexdigest()
    return "BLK" + digest[:24].upper()


def create(p: BulkPorts, principal, body: rules.BatchRequest, idempotency_key: str, request_hash: str,
           now: datetime) -> tuple[int, dict[str, Any]]:
    from chalicelib.services import idempotency

    scope = f"{principal.subject}#{SCOPE}"
    previous = idempotency.lookup(p.idempotency, scope, idempotency_key, request_hash)
    if previous is not None:
        stored = p.batches.get(previous["body"]["batch_id"])
        if stored is not None:
            _resume(p, stored)  # the first request may have stopped before it
        return previous["status"], previous["body"]
    plan = _plan(body.plan_id)
    funding = body.funding
    check_staff(principal, plan, funding)
    payer = _payer(plan, funding, body.payer)
    rows, upload = body.rows, body.upload
    if upload is not None and rows is None:
        return _create_awaiting_upload(p, principal, plan, funding, payer, body, upload.format, scope,
                                       idempotency_key, request_hash, now)
    if not rows or upload is not None:
        raise BadRequest("BULK_ROWS_REQUIRED", field="rows", max_rows=rules.MAX_INLINE_ROWS)
    today = now.astimezone(CHINA_TZ).date()
    listed = [rules.ListRow(row=n, name=r.name or "", id_number=str(r.id_number or "")[:40], group=r.group,
                            id_was_number=isinstance(r.id_number, int))
              for n, r in enumerate(rows, start=1)]
    screened = rules.screen_rows(listed, today)  # no plan names admitted groups yet: every group is accepted
    batch_id = batch_id_for(principal, idempotency_key)
    chunks = p.batches.put_chunks(batch_id, [_stored_row(p.cipher, s) for s in screened], _expires_at(plan, today))
    batch = rules.Batch(batch_id=batch_id, plan_id=plan.plan_id, funding=funding, programme=body.programme,
                        payer=payer, status="running", row_count=len(screened), chunks=chunks,
                        created_by=principal.subject, created_at=iso(now), accepted_on=today)
    answer = {"batch_id": batch_id, "status": "running", "row_count": len(screened)}
    try:
        p.table.transact([p.batches.create_op(batch),
                          idempotency.completed_op(scope, idempotency_key, request_hash, now, 202, answer,
                                                   resource_id=batch_id)])
    except ConditionFailed:
        previous = idempotency.lookup(p.idempotency, scope, idempotency_key, request_hash)  # a concurrent duplicate
        if previous is None:
            raise
        return previous["status"], previous["body"]
    _ensure_run(p, batch_id, "screen")
    return 202, answer


def _create_awaiting_upload(p: BulkPorts, principal, plan: Plan, funding: str, payer: rules.Payer,
                            body: rules.BatchRequest, fmt: str, scope: str, idempotency_key: str, request_hash: str,
                            now: datetime) -> tuple[int, dict[str, Any]]:
    """A list sent as a file: the batch waits for the upload (a pre-signed POST straight to S3), then `start`."""
    from chalicelib.services import idempotency

    batch_id = batch_id_for(principal, idempotency_key)
    from chalicelib.adapters.list_uploads import list_key

    key = list_key(plan.plan_id, batch_id, fmt)
    batch = rules.Batch(batch_id=batch_id, plan_id=plan.plan_id, funding=funding, programme=body.programme,
                        payer=payer, status="awaiting_upload", row_count=0, chunks=0, created_by=principal.subject,
                        created_at=iso(now), accepted_on=now.astimezone(CHINA_TZ).date(), upload_format=fmt,
                        upload_key=key)
    form = p.uploads.upload_form(key, fmt)
    answer = {"batch_id": batch_id, "status": "awaiting_upload",
              "upload": {"url": form.url, "fields": form.fields, "expires_in": form.expires_in}}
    try:
        p.table.transact([p.batches.create_op(batch),
                          idempotency.completed_op(scope, idempotency_key, request_hash, now, 202, answer,
                                                   resource_id=batch_id)])
    except ConditionFailed:
        previous = idempotency.lookup(p.idempotency, scope, idempotency_key, request_hash)
        if previous is None:
            raise
        return previous["status"], previous["body"]
    return 202, answer


def start(p: BulkPorts, principal, batch_id: str, now: datetime) -> dict[str, Any]:
    """POST …/{batch_id}/start: the file is there → the batch is accepted now (benefits count from today, §10.4)
    and `running`, and the job worker reads it (`read` phase: CSV in UTF-8 or GBK, or XLSX), screens and stores its
    rows, deletes the file and starts the rows' run. Answers at once (202), whatever the file's size; `row_count`
    is known once the worker has read the file (GET). A repeated start answers the same and starts nothing twice."""
    batch = _visible_batch(p, principal, batch_id)
    if batch.status != "awaiting_upload":
        if batch.upload_key is None:
            rules.next_status(batch.status, "uploaded", batch.funding)  # 409: not a file batch
        _resume(p, batch)
        return {"status": batch.status, "row_count": batch.row_count or None}
    if not p.uploads.exists(batch.upload_key):
        raise Conflict("BULK_FILE_NOT_UPLOADED")
    today = now.astimezone(CHINA_TZ).date()
    p.batches.move(batch, rules.next_status(batch.status, "uploaded", batch.funding), accepted_on=today.isoformat(),
                   started_at=iso(now))
    _batch_cache.pop(batch_id, None)
    _ensure_run(p, batch_id, "read")
    return {"status": "running", "row_count": None}


def _resume(p: BulkPorts, batch: rules.Batch) -> None:
    """A repeated start (or create): start whichever run the batch still needs, if it never started."""
    if batch.status != "running":
        return
    if batch.upload_key is not None and batch.row_count == 0:
        _ensure_run(p, batch.batch_id, "read")
    else:
        _ensure_run(p, batch.batch_id, "screen")


def _read_file(p: BulkPorts, batch: rules.Batch, now: datetime) -> str:
    """The `read` phase's one item: the uploaded file → screened rows in chunks, the row count on the batch, the file
    deleted (it holds ID numbers in clear), then the rows' run. Redelivered, it finds the batch read and only makes
    sure the rows' run exists. A file that is no list moves the batch to `failed` with the reason."""
    from chalicelib.adapters.list_files import read_list

    batch = p.batches.get(batch.batch_id) or batch
    if batch.status != "running" or batch.row_count > 0:
        _resume(p, batch)
        return "skipped"
    data = p.uploads.read(batch.upload_key)
    if data is None:
        raise Conflict("BULK_FILE_NOT_UPLOADED")  # read by a concurrent delivery meanwhile: tried again, skipped
    try:
        listed = read_list(data, batch.upload_format)
        if not listed:
            raise BadRequest("BULK_ROWS_REQUIRED", field="file", max_rows=rules.MAX_FILE_ROWS)
    except DomainError as exc:
        p.batches.move(batch, rules.next_status(batch.status, "unreadable", batch.funding),
                       error={"code": exc.code, "message": exc.message})
        p.uploads.delete(batch.upload_key)
        return "unreadable"
    screened = rules.screen_rows(listed, batch.accepted_on)
    chunks = p.batches.put_chunks(batch.batch_id, [_stored_row(p.cipher, s) for s in screened],
                                  _expires_at(_plan(batch.plan_id), batch.accepted_on))
    p.batches.move(batch, "running", row_count=len(screened), chunks=chunks)
    _batch_cache.pop(batch.batch_id, None)
    p.uploads.delete(batch.upload_key)
    _ensure_run(p, batch.batch_id, "screen")
    return "read"


def _expires_at(plan: Plan, accepted_on: date) -> int:
    """When the batch's stored rows and its refused-rows report are deleted (table TTL, epoch seconds): the plan's
    retention period after the list was accepted (DOMAIN §10.4). Policies, counts and the batch record stay."""
    end = accepted_on + timedelta(days=plan.bulk_enrolment.retention_days)
    return int(datetime.combine(end, time.min, CHINA_TZ).timestamp())


def _payer(plan: Plan, funding: str, raw: rules.PayerRequest) -> rules.Payer:
    if funding not in plan.payment_methods:
        raise BadRequest("BULK_FUNDING_NOT_OFFERED", field="funding", plan_name=plan.name,
                         funding_zh=rules.FUNDING_ZH[funding])
    county = (raw.county or "").strip() or None
    if county is not None and plan.disclosure.counties and county not in plan.disclosure.counties:
        raise BadRequest("BULK_PAYER_COUNTY_UNKNOWN", field="payer.county", county=county, city_name=plan.city_name)
    credit_code = None
    if funding == "collective":
        if not (raw.credit_code or "").strip():
            raise BadRequest("BULK_PAYER_CREDIT_CODE_REQUIRED", field="payer.credit_code")
        credit_code = rules.parse_credit_code(raw.credit_code)
    return rules.Payer(name=raw.name.strip(), county=county, credit_code=credit_code)


def _stored_row(cipher, s: rules.ScreenedRow) -> rules.StoredRow:
    from chalicelib.services.people import ID_NUMBER_CONTEXT

    if s.refusal is not None:
        return rules.StoredRow(row=s.row, refusal=s.refusal)  # the masked ID only
    return rules.StoredRow(row=s.row, name=s.name, group=s.group, id_hash=cipher.lookup_hash(s.id_number),
                           id_enc=cipher.encrypt(s.id_number, ID_NUMBER_CONTEXT))


def _run_id(batch_id: str, phase: str) -> str:
    return f"R{batch_id}{phase[0].upper()}"


def _ensure_run(p: BulkPorts, batch_id: str, phase: str) -> None:
    """Start the phase's run unless it exists: its items go on the job queue and the SQS worker works them after
    this answers — in every stage; locally `POST /sandbox/jobs-queue/drain` plays the worker (chalicelib/jobs.py)."""
    run_id = _run_id(batch_id, phase)
    if p.runs.exists(run_id):
        return
    try:
        p.runs.start(run_id, {"batch_id": batch_id, "phase": phase})
    except ConditionFailed:
        pass  # a concurrent duplicate started it


# ---- the fan-out job ------------------------------------------------------------------------------------------
def enqueue(p: BulkPorts, context: RunContext) -> Iterator[tuple[str, Any]]:
    if not context.params.get("batch_id"):
        return  # started without a batch (e.g. POST /sandbox/jobs/bulk_enrolment): nothing to do
    batch = _batch(p, context.params["batch_id"])
    if context.params.get("phase") == "read":
        yield f"{batch.batch_id}#file", {}
        return
    for row in p.batches.rows(batch.batch_id, batch.chunks):
        yield f"{batch.batch_id}#{row.row}", row.model_dump(mode="json", exclude_none=True)


def handle_row(p: BulkPorts, item: WorkItem) -> str:
    if item.params["phase"] == "read":
        return _read_file(p, _batch(p, item.params["batch_id"]), item.now)
    return handle(p, item.params["batch_id"], item.params["phase"], rules.StoredRow.model_validate(item.payload),
                  item.now)


def _batch(p: BulkPorts, batch_id: str) -> rules.Batch:
    batch = _batch_cache.get(batch_id)
    if batch is None or batch.row_count == 0 or (batch.funding == "collective" and batch.confirmed_on is None):
        batch = p.batches.get(batch_id)
        if batch is None:
            raise NotFound("BULK_BATCH_NOT_FOUND")
        if len(_batch_cache) > 256:  # a warm worker sees few batches; never let the cache grow unbounded
            _batch_cache.clear()
        _batch_cache[batch_id] = batch
    return batch


def handle(p: BulkPorts, batch_id: str, phase: str, row: rules.StoredRow, now: datetime) -> str:
    """One row, exactly once per (batch, row, phase). Returns its outcome, lower case, for the run's counts."""
    from chalicelib.services.people import ID_NUMBER_CONTEXT, find_platform_person

    batch = _batch(p, batch_id)
    plan = _plan(batch.plan_id)
    n = row.row
    issuing_phase = phase == "issue"
    plans = [plan.plan_id, *([plan.previous_plan_id] if plan.previous_plan_id else [])]  # renewal (DOMAIN §4.6)
    existing, covers = p.batches.outcome_and_covers(batch_id, n, row.id_hash, plans)  # one BatchGetItem
    if issuing_phase:
        if existing is None or existing.code != rules.ELIGIBLE:
            return "skipped"
    elif existing is not None:
        return "skipped"
    if row.refusal is not None:
        return _record(p, batch, n, row.refusal, issuing_phase)
    id_number = p.cipher.decrypt(row.id_enc, ID_NUMBER_CONTEXT)
    screened = rules.ScreenedRow(row=n, name=row.name or "", id_number=id_number, group=row.group)
    person = find_platform_person(p.platform, id_number)
    refused = rules.platform_refusal(screened, plan, person)
    if refused is not None:
        return _record(p, batch, n, refused, issuing_phase)
    marker = covers.get(plan.plan_id)
    if marker is not None:
        return _covered_already(p, batch, plan, screened, marker, issuing_phase, now)
    if batch.funding == "collective" and not issuing_phase:
        return _record(p, batch, n, rules.ELIGIBLE, False)
    previous = covers.get(plan.previous_plan_id) if plan.previous_plan_id else None
    return _issue(p, batch, plan, screened, row, person, previous, issuing_phase, now)


def _already_covered(plan: Plan, row: rules.ScreenedRow) -> rules.RowRefusal:
    return rules.refusal(row.row, row.id_number, "ALREADY_COVERED", who=term("WHO_LIST_ROW", row=row.row), plan_name=plan.name)


def _record(p: BulkPorts, batch: rules.Batch, n: int, outcome: rules.RowRefusal | str, replaces: bool) -> str:
    try:
        p.table.transact(p.batches.outcome_ops(batch.batch_id, outcome, n, replaces_eligible=replaces,
                                               expires_at=_expires_at(_plan(batch.plan_id), batch.accepted_on)))
    except ConditionFailed:
        return "skipped"  # another delivery recorded this row first
    code = outcome.code if isinstance(outcome, rules.RowRefusal) else outcome
    return code.lower()


def _issue(p: BulkPorts, batch: rules.Batch, plan: Plan, row: rules.ScreenedRow, stored: rules.StoredRow, person,
           previous_marker: CoverMarker | None, replaces: bool, now: datetime) -> str:
    """The cover marker, the policy, the row's outcome and counters and the disclosure counters: one transaction.
    Nobody is charged: the payer is the county government (subsidy) or the organisation (collective)."""
    from chalicelib.domain.disclosure import counted_county
    from chalicelib.domain.enrolment_rules import benefit_start
    from chalicelib.domain.errors import RuleViolation
    from chalicelib.domain.policy import Policy
    from chalicelib.services import disclosure

    renewal = previous_marker is not None and previous_marker.state == COVER_ISSUED
    try:
        start = benefit_start(plan, person, batch.paid_on, renewal, who=term("WHO_LIST_ROW", row=row.row))
    except RuleViolation as exc:
        return _record(p, batch, row.row, rules.refusal(row.row, row.id_number, exc.code, exc.message), replaces)
    policy_id = f"POL{batch.batch_id[3:]}{row.row:07d}"
    county = counted_county(plan, person.county)
    policy = Policy(policy_id=policy_id, plan_id=plan.plan_id, order_id=batch.batch_id, insured_hash=stored.id_hash,
                    insured_name=row.name, insured_id_enc=stored.id_enc, payer_account_id=f"BULK#{batch.batch_id}",
                    payment_method=batch.funding, premium_fen=plan.premium_fen,
                    paid_at=datetime.combine(batch.paid_on, datetime.min.time(), CHINA_TZ).isoformat(),
                    benefit_start=start.benefit_start.isoformat(), coverage_end=plan.coverage_end.isoformat(),
                    waiting_rule=start.waiting_rule, created_at=iso(now), county=county,
                    batch_id=batch.batch_id, batch_row=row.row, payer_name=batch.payer.name,
                    payer_county=batch.payer.county, payer_credit_code=batch.payer.credit_code)
    marker = p.batches.new_cover_op(CoverMarker(plan_id=plan.plan_id, state=COVER_ISSUED, order_id=batch.batch_id,
                                                policy_id=policy_id, created_at=iso(now)), stored.id_hash)
    ops = [marker, p.policies.issue_op(policy),
           *p.batches.outcome_ops(batch.batch_id, "ISSUED", row.row, replaces_eligible=replaces, policy_id=policy_id,
                                  expires_at=_expires_at(plan, batch.accepted_on)),
           disclosure.policy_issued_op(plan, policy)]
    try:
        p.table.transact(ops)
    except ConditionFailed as exc:
        reasons = exc.reasons
        if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            return "skipped"  # this row was handled by another delivery
        if reasons and reasons[0] == "ConditionalCheckFailed":  # covered meanwhile (an order, another list)
            return _covered_already(p, batch, plan, row, p.batches.cover(plan.plan_id, stored.id_hash), replaces, now)
        raise
    return "issued"


def _covered_already(p: BulkPorts, batch: rules.Batch, plan: Plan, row: rules.ScreenedRow, marker: CoverMarker | None,
                     replaces: bool, now: datetime) -> str:
    """The row's person holds this plan's cover already: the government takes over a self-paid policy (§10.4);
    anything else (another list's policy, an organisation's, an order still being paid) is ALREADY_COVERED."""
    held = marker is not None and marker.state == COVER_ISSUED and marker.policy_id
    policy = p.policies.get(marker.policy_id) if held else None
    if policy is None or policy.status != "active" or not rules.takes_over(
            batch.funding, plan, policy.payment_method, policy.taken_over is not None):
        return _record(p, batch, row.row, _already_covered(plan, row), replaces)
    return _take_over(p, batch, plan, row, policy, replaces, now)


def _take_over(p: BulkPorts, batch: rules.Batch, plan: Plan, row: rules.ScreenedRow, policy, replaces: bool,
               now: datetime) -> str:
    """DOMAIN §10.4, one transaction: the policy stays and is paid by the county government from now on (channel
    `subsidy`, with whom and which row), the refund of the member's premium is recorded (the orders' refund
    path), the row's outcome TAKEN_OVER (written once: it is the row's idempotency record) and its counts, and
    the disclosure counters move the policy from the member's channel to the subsidy's. Then the refund is sent;
    if the channel does not answer, the scheduled reconciliation sends it again (same refund id: paid once)."""
    from chalicelib.adapters.repositories.orders import new_refund_op
    from chalicelib.services import disclosure
    from chalicelib.services.orders.cancellation import execute_refund, pending_refund

    order = p.orders.get(policy.order_id)
    if order is None:  # an order every personal policy has; without it nothing can be refunded: leave it be
        return _record(p, batch, row.row, _already_covered(plan, row), replaces)
    refund = pending_refund(policy, order, f"RT{policy.policy_id[3:]}", "takeover", now)
    taken = {"batch_id": batch.batch_id, "row": row.row, "payer_name": batch.payer.name,
             "payer_county": batch.payer.county, "previous_payment_method": policy.payment_method,
             "refund_id": refund.refund_id, "at": iso(now)}
    ops = [p.policies.take_over_op(policy, batch.funding, taken), new_refund_op(refund),
           *p.batches.outcome_ops(batch.batch_id, "TAKEN_OVER", row.row, replaces_eligible=replaces,
                                  policy_id=policy.policy_id, refund_id=refund.refund_id,
                                  expires_at=_expires_at(plan, batch.accepted_on)),
           *disclosure.takeover_ops(plan, policy, batch.funding)]
    try:
        p.table.transact(ops)
    except ConditionFailed as exc:
        if len(exc.reasons) > 2 and exc.reasons[2] == "ConditionalCheckFailed":
            return "skipped"  # this row was handled by another delivery
        raise  # the policy changed meanwhile (cancelled, taken over by another list): the row is tried again
    execute_refund(p, refund, now)
    return "taken_over"


# ---- POST …/{batch_id}/payment-received ---------------------------------------------------------------------
def confirm_payment(p: BulkPorts, principal, batch_id: str, now: datetime) -> dict[str, Any]:
    batch = _visible_batch(p, principal, batch_id)
    if batch.funding != "collective":
        raise Conflict("BULK_NOT_COLLECTIVE")
    batch = _settle(p, batch)
    if batch.status == "awaiting_payment":
        rules.check_confirmer(batch.created_by, principal.subject)
        plan = _plan(batch.plan_id)
        if now.timestamp() >= _expires_at(plan, batch.accepted_on):  # its stored rows are gone (TTL): submit anew
            raise Conflict("BULK_BATCH_EXPIRED", days=plan.bulk_enrolment.retention_days)
        target = rules.next_status(batch.status, "payment_received", batch.funding)
        p.batches.move(batch, target, confirmed_by=principal.subject,
                       confirmed_on=now.astimezone(CHINA_TZ).date().isoformat(), confirmed_at=iso(now))
        _batch_cache.pop(batch_id, None)
        batch = p.batches.get(batch_id)
    elif batch.status in ("issuing", "done") and batch.confirmed_by is not None:
        pass  # confirmed already (a retried confirmation): resume the issue run if it never started
    else:
        rules.next_status(batch.status, "payment_received", batch.funding)  # 409 naming the status
    _ensure_run(p, batch_id, "issue")
    return view(p, principal, batch_id)


# ---- GET …/{batch_id} -------------------------------------------------------------------------------------------
def _visible_batch(p: BulkPorts, principal, batch_id: str) -> rules.Batch:
    batch = p.batches.get(batch_id)
    if batch is None:
        raise NotFound("BULK_BATCH_NOT_FOUND")
    try:
        check_staff(principal, _plan(batch.plan_id), batch.funding)
    except DomainError:
        raise NotFound("BULK_BATCH_NOT_FOUND") from None  # another city's or role's batch is not theirs to see
    return batch


def _settle(p: BulkPorts, batch: rules.Batch) -> rules.Batch:
    """Move the batch on when every row has its outcome (screened → done or awaiting_payment; issued → done)."""
    counts = p.batches.counts(batch.batch_id)
    event = rules.settled_status(batch, counts)
    if event is None:
        return batch
    target = rules.next_status(batch.status, event, batch.funding)
    fields: dict[str, Any] = {}
    if target == "awaiting_payment":
        fields["amount_fen"] = counts.eligible * _plan(batch.plan_id).premium_fen
    p.batches.move(batch, target, **fields)
    return p.batches.get(batch.batch_id) or batch


def view(p: BulkPorts, principal, batch_id: str, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
    batch = _settle(p, _visible_batch(p, principal, batch_id))
    counts = p.batches.counts(batch_id)
    after = _cursor(cursor)
    refused, next_row = p.batches.refused_page(batch_id, limit, after)
    return {"batch_id": batch.batch_id, "plan_id": batch.plan_id, "funding": batch.funding, "status": batch.status,
            "payer": batch.payer.model_dump(exclude_none=True),
            "counts": {"rows": batch.row_count, "issued": counts.issued, "taken_over": counts.taken_over,
                       "already_covered": counts.already_covered,
                       "refused": counts.refused, "awaiting_payment": counts.eligible},
            # collective: what the organisation owes for its eligible rows; subsidy: what the county government pays
            "amount_fen": (batch.amount_fen or 0) if batch.funding == "collective"
            else counts.issued * _plan(batch.plan_id).premium_fen,
            "refused": [r.model_dump() for r in refused], "next": str(next_row) if next_row is not None else None,
            "created_by": batch.created_by, "created_at": batch.created_at, "confirmed_by": batch.confirmed_by,
            "error": batch.error}


def refused_csv(p: BulkPorts, principal, batch_id: str) -> bytes:
    _visible_batch(p, principal, batch_id)
    return rules.refused_rows_csv(p.batches.all_refused(batch_id))


def _cursor(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest("BAD_QUERY_PARAMETER", field="cursor")
    return int(raw)
