"""The fan-out job runner: a run pages its items, enqueues them a few hundred per SQS message, and an SQS-triggered
worker handles each message's items; a run record in the table counts what happened.

A job is two functions (`Job`): `enqueue(run)` yields `(item_id, payload)` pairs — item ids stable across runs
(a policy id, a settlement id, a list row), payloads small JSON — and `handle(item)` does one item's work and returns
its outcome (`"renewed"`, or counts such as `{"issued": 2}`), or raises to have the item tried again. Each item's
exactly-once effect is the job's business (its own idempotency record or condition, keyed by the item id): the
runner guarantees every item reaches `handle` at least once per run and that the run's counts add each message
exactly once, however often SQS delivers it.

Per message the worker makes 1 BatchGetItem (run record + the message's marker), then the items' own work, then one
TransactWriteItems (the marker and the counts) and one GetItem (is the run complete?). Items that raised go back on
the queue in a new message (attempt + 1) up to `max_attempts`, then to the dead-letter queue, counted `failed`.
A message that cannot be handled at all (storage down, a bug) is reported in `batchItemFailures`, so SQS redelivers
only it and, after the queue's maxReceiveCount, moves it to the dead-letter queue (alarmed).

A run stops when asked (`stop`): messages still queued are then acknowledged without work. Re-running a job starts
a new run over every item again; what the previous runs did is skipped by the job's own idempotency.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.adapters.dynamodb import Table
from chalicelib.adapters.repositories.job_runs import JobRunRepository, JobRunStore
from chalicelib.domain.job_run import FINISHED, RUNNING, STOPPED, JobRun  # noqa: F401 (re-exported)

ITEMS_PER_MESSAGE = 200  # a few hundred: moto's SQS (and SQS's per-request cost) grow with the number of messages
MAX_ATTEMPTS = 3
MARKER_RETENTION = timedelta(days=30)


# ---- what a job is ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunContext:
    run_id: str
    job: str
    now: datetime
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkItem:
    """One item as a job's handler receives it. `item_id` is the job's own stable id; (`run_id`, `message_key`)
    names the message it came in; `attempt` counts from 1."""

    run_id: str
    job: str
    item_id: str
    payload: Any
    attempt: int
    message_key: str
    now: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    prepared: Any = None  # what the job's `prepare` read for the whole message (shared by its items)


Outcome = str | Mapping[str, int] | None


@dataclass(frozen=True)
class Job:
    name: str
    enqueue: Callable[[RunContext], Iterable[tuple[str, Any]]]
    handle: Callable[[WorkItem], Outcome]
    description: str = ""
    items_per_message: int = ITEMS_PER_MESSAGE
    max_attempts: int = MAX_ATTEMPTS
    aliases: tuple[str, ...] = ()
    # Optional: one read for a whole message's items (e.g. one BatchGetItem), handed to each as `item.prepared`.
    # Raising fails the message (delivered again). What it read may be stale by the time an item runs: the item's
    # writes must stay conditional.
    prepare: Callable[[list[WorkItem]], Any] | None = None


class JobQueue(Protocol):
    def send(self, bodies: list[str], delay_seconds: int = 0) -> None: ...
    def dead_letter(self, body: str) -> None: ...


@dataclass
class FanoutPorts:
    table: Table
    queue: JobQueue
    clock: Any
    jobs: Mapping[str, Job]
    retry_delay_seconds: Callable[[int], int] = lambda attempt: min(900, 30 * attempt)
    log: Any = None
    runs: JobRunStore | None = None  # the run records; over `table` unless given (a twin)

    def __post_init__(self) -> None:
        if self.runs is None:
            self.runs = JobRunRepository(self.table)


class UnknownJob(LookupError):
    pass


def resolve(jobs: Mapping[str, Job], name: str) -> Job:
    """The job registered under `name` or one of its aliases."""
    if name in jobs:
        return jobs[name]
    for job in jobs.values():
        if name in job.aliases:
            return job
    raise UnknownJob(name)


# ---- the run record -----------------------------------------------------------------------------------------
def _iso(dt: datetime) -> str:
    from chalicelib.adapters.clock import iso

    return iso(dt)


def new_run_id(now: datetime) -> str:
    return f"R{now.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:10].upper()}"


def get_run(runs: JobRunStore, run_id: str) -> JobRun | None:
    return runs.get(run_id)


def list_runs(runs: JobRunStore, job: str, limit: int = 20) -> list[JobRun]:
    """A job's runs, newest first."""
    return runs.runs_of(job, limit)


def stop(runs: JobRunStore, run_id: str, now: datetime) -> JobRun | None:
    """Stop a running run: queued messages are acknowledged without work from now on."""
    runs.stop(run_id, _iso(now))
    return runs.get(run_id)


def _finish_if_complete(runs: JobRunStore, run: JobRun | None, now: datetime) -> JobRun | None:
    if run is None or not run.complete or run.finished_at is not None or run.status != RUNNING:
        return run
    runs.finish(run.run_id, _iso(now))
    return runs.get(run.run_id)


# ---- producer: a run pages its items onto the queue ----------------------------------------------------------
def _message(run_id: str, job: str, key: str, attempt: int, items: list[list[Any]],
             params: Mapping[str, Any]) -> str:
    body = {"run_id": run_id, "job": job, "key": key, "attempt": attempt, "items": items}
    if params:
        body["params"] = dict(params)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def start(ports: FanoutPorts, job_name: str, *, params: Mapping[str, Any] | None = None,
          run_id: str | None = None, after_send: Callable[[int], None] | None = None) -> JobRun:
    """Create the run record, then page the job's items onto the queue, `items_per_message` per message and ten
    messages per SendMessageBatch. Checks every thousand messages whether the run was stopped meanwhile.
    `after_send(messages sent so far)` runs after each batch (the local stage drains as it goes)."""
    job = resolve(ports.jobs, job_name)
    now = ports.clock.now()
    run_id = run_id or new_run_id(now)
    params = dict(params or {})
    runs = ports.runs
    runs.create(JobRun(run_id=run_id, job=job.name, status=RUNNING, started_at=_iso(now), params=params))
    context = RunContext(run_id=run_id, job=job.name, now=now, params=params)
    batch: list[list[Any]] = []
    bodies: list[str] = []
    messages = items = 0
    stopped = False
    for item_id, payload in job.enqueue(context):
        batch.append([str(item_id), payload])
        items += 1
        if len(batch) == job.items_per_message:
            bodies.append(_message(run_id, job.name, str(messages), 1, batch, params))
            messages, batch = messages + 1, []
            if len(bodies) == 10:
                ports.queue.send(bodies)
                bodies = []
                if after_send is not None:
                    after_send(messages)
                if messages % 1000 == 0:
                    current = runs.get(run_id)
                    if current is not None and current.status != RUNNING:
                        stopped = True
                        break
    if not stopped:
        if batch:
            bodies.append(_message(run_id, job.name, str(messages), 1, batch, params))
            messages += 1
        if bodies:
            ports.queue.send(bodies)
    run = runs.enqueued(run_id, messages, items, _iso(ports.clock.now()))
    _log(ports, "info", "job run enqueued", run_id=run_id, job=job.name, items=items, messages=messages)
    return _finish_if_complete(runs, run, ports.clock.now()) or run


# ---- consumer: the SQS-triggered worker ------------------------------------------------------------------------
def handle_event(ports: FanoutPorts, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Lambda's SQS event → `{"batchItemFailures": [...]}` naming the messages to deliver again (the event source
    mapping has ReportBatchItemFailures, so the others are deleted)."""
    failures = []
    for record in event.get("Records", []):
        try:
            handle_message(ports, record["body"])
        except Exception as exc:  # noqa: BLE001 — this message only is delivered again (then dead-lettered)
            _log(ports, "exception", "job message failed; SQS delivers it again", message_id=record.get("messageId"),
                 error=type(exc).__name__)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def handle_message(ports: FanoutPorts, raw_body: str) -> str:
    """Handle one message's items; returns what became of it: done | duplicate | stopped | unknown_run."""
    body = json.loads(raw_body)
    run_id, key, attempt = body["run_id"], body["key"], int(body.get("attempt", 1))
    job = resolve(ports.jobs, body["job"])
    params = body.get("params") or {}
    runs = ports.runs
    run, handled = runs.message_state(run_id, key)
    if run is None:
        _log(ports, "warning", "job message for an unknown run: dropped", run_id=run_id, key=key)
        return "unknown_run"
    if handled:
        return "duplicate"  # handled and counted already (SQS delivers at least once)
    if run.status == STOPPED:
        return "stopped"

    now = ports.clock.now()
    counts: dict[str, int] = {}
    failed: list[list[Any]] = []
    items = [WorkItem(run_id=run_id, job=job.name, item_id=item_id, payload=payload, attempt=attempt,
                      message_key=key, now=now, params=params) for item_id, payload in body["items"]]
    if job.prepare is not None:
        prepared = job.prepare(items)
        items = [dataclasses.replace(item, prepared=prepared) for item in items]
    for item in items:
        item_id, payload = item.item_id, item.payload
        try:
            outcome = job.handle(item)
        except Exception as exc:  # noqa: BLE001 — the item goes round again; the rest of the message carries on
            _log(ports, "warning", "job item failed", run_id=run_id, job=job.name, item_id=item_id,
                 attempt=attempt, error=type(exc).__name__)
            failed.append([item_id, payload])
            continue
        _add(counts, outcome)

    retried = 0
    if failed and attempt < job.max_attempts:
        retry = _message(run_id, job.name, f"{key.split('~')[0]}~{attempt + 1}", attempt + 1, failed, params)
        ports.queue.send([retry], delay_seconds=ports.retry_delay_seconds(attempt))
        retried = 1
    elif failed:
        ports.queue.dead_letter(_message(run_id, job.name, key, attempt, failed, params))
        counts["failed"] = counts.get("failed", 0) + len(failed)
        _log(ports, "error", "job items failed every attempt: parked in the dead-letter queue", run_id=run_id,
             job=job.name, items=[i for i, _ in failed])

    if not runs.message_done(run_id, key, at=_iso(now), items=len(body["items"]), failed=len(failed),
                             counts=counts, retried=retried,
                             expires_at=int((now + MARKER_RETENTION).timestamp())):
        return "duplicate"  # another delivery of this message counted it first
    _finish_if_complete(runs, runs.get(run_id), ports.clock.now())
    return "done"


def _add(counts: dict[str, int], outcome: Outcome) -> None:
    if outcome is None:
        outcome = "done"
    if isinstance(outcome, str):
        counts[outcome] = counts.get(outcome, 0) + 1
        return
    for name, n in outcome.items():  # zeros too: a job's answer names all its counts
        counts[name] = counts.get(name, 0) + int(n)


def _log(ports: FanoutPorts, level: str, message: str, **fields: Any) -> None:
    if ports.log is not None:
        getattr(ports.log, level)(message, extra=fields)


# ---- the local stage: the same worker drains a moto queue -----------------------------------------------------
class DrainingQueue(JobQueue, Protocol):
    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[Any]: ...
    def delete(self, receipt_handles: list[str]) -> None: ...
    def release(self, receipt_handles: list[str]) -> None: ...


def drain_available(queue: DrainingQueue, worker: Callable[[dict[str, Any]], dict[str, Any]],
                    max_messages: int) -> int:
    """Play Lambda's event source mapping for up to `max_messages` messages: receive up to ten without waiting,
    hand them to `worker` as an SQS event, delete what succeeded and make the failed ones visible again at once
    (zero visibility timeout) so they come straight back. Returns how many were handled (0: the queue is empty)."""
    handled = 0
    while handled < max_messages:
        received = queue.receive(max(1, min(10, max_messages - handled)))
        if not received:
            break
        result = worker({"Records": [r.as_lambda_record() for r in received]})
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        queue.delete([r.receipt_handle for r in received if r.message_id not in failed])
        queue.release([r.receipt_handle for r in received if r.message_id in failed])
        handled += len(received)
    return handled


def drain(ports: FanoutPorts, run_id: str, worker: Callable[[dict[str, Any]], dict[str, Any]], *,
          stop_after_messages: int | None = None, max_idle_polls: int = 200) -> JobRun | None:
    """Drain the queue (`drain_available`) until the run is finished, or stopped and its messages gone.
    `stop_after_messages` stops the run after that many messages (to show a run interrupted and re-run)."""
    queue: DrainingQueue = ports.queue  # type: ignore[assignment]
    if stop_after_messages is not None:
        drain_available(queue, worker, stop_after_messages)
        stop(ports.runs, run_id, ports.clock.now())
    idle = 0
    while True:
        if drain_available(queue, worker, 100):
            idle = 0
            continue
        run = ports.runs.get(run_id)
        if run is None or run.status != RUNNING or run.complete or idle >= max_idle_polls:
            return _finish_if_complete(ports.runs, run, ports.clock.now())
        idle += 1  # another drain (a concurrent sandbox call) holds the rest of this run's messages
