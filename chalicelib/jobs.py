"""The job registry and the entry points app.py's handlers call.

Each job is registered once in `JOBS` (name → enqueue function + item handler, `chalicelib/services/fanout.py`'s
`Job`); a schedule (`chalicelib/schedules.py`), `POST /sandbox/jobs/{job}` and the SQS worker all find it here.
Job functions import their services lazily: importing this module builds nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.services.fanout import FanoutPorts, Job, JobRun, RunContext, WorkItem

JOBS: dict[str, Job] = {}
LOCAL_QUEUE_DEPTH = 50  # messages the local stage lets pile up before its worker drains them


def register(job: Job) -> Job:
    """Add a job to the registry (the built-in jobs below; tests add their own)."""
    JOBS[job.name] = job
    return job


def unregister(name: str) -> None:
    JOBS.pop(name, None)


# ---- ports ------------------------------------------------------------------------------------------------------
def fanout_ports() -> FanoutPorts:
    from chalicelib import deps

    return deps.fanout_ports(JOBS)


# ---- entry points -------------------------------------------------------------------------------------------------
def run_scheduled(job: str, event: Any = None) -> dict[str, Any]:
    """A schedule fired: start a run (the worker does the work). Returns the run record as enqueued."""
    from chalicelib.services import fanout

    return fanout.start(fanout_ports(), job).to_dict()


def handle_sqs_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The SQS-triggered worker (app.py `job_worker`; locally `run_now`'s drain): partial batch failures."""
    from chalicelib.services import fanout

    return fanout.handle_event(fanout_ports(), event)


def run_now(job: str, *, params: Mapping[str, Any] | None = None,
            stop_after_messages: int | None = None, run_id: str | None = None) -> JobRun:
    """The local stage: start a run at the sandbox clock and drain the moto queue through the same worker, answering
    when the work is done (or the run stopped)."""
    from chalicelib.services import fanout

    ports = fanout_ports()

    def keep_the_queue_shallow(sent: int) -> None:
        # moto's SQS costs grow with the number of queued messages (each receive and delete walks them all):
        # the worker drains while the run is still enqueueing, as Lambda's pollers would.
        if sent % LOCAL_QUEUE_DEPTH == 0:
            fanout.drain_available(ports.queue, handle_sqs_event, LOCAL_QUEUE_DEPTH)

    run = fanout.start(ports, job, params=params, run_id=run_id,
                       after_send=keep_the_queue_shallow if stop_after_messages is None else None)
    return fanout.drain(ports, run.run_id, handle_sqs_event, stop_after_messages=stop_after_messages) or run


def drain_local(max_messages: int = 1_000_000) -> int:
    """The local stage plays Lambda's SQS poller: work every message on the moto queue now (messages a handler
    enqueues meanwhile included, e.g. a bulk list's rows after its file is read). Returns how many were handled."""
    from chalicelib.services import fanout

    ports, handled = fanout_ports(), 0
    while handled < max_messages:
        n = fanout.drain_available(ports.queue, handle_sqs_event, min(100, max_messages - handled))
        if not n:
            return handled
        handled += n
    return handled


# ---- the jobs ---------------------------------------------------------------------------------------------------
def _single(context: RunContext) -> Iterable[tuple[str, Any]]:
    """One item for jobs that do their whole pass in one go (they page their own sparse work queues)."""
    yield context.job, {}


def _reconcile_orders(item: WorkItem) -> dict[str, int]:
    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.orders import reconcile

    counts = reconcile(deps.order_ports(), item.now)
    logger().info("orders reconciled", extra=counts)
    return counts


def _claim_deadline_sweep(item: WorkItem) -> dict[str, int]:
    summary = claim_deadline_summary(item.now.date())
    return {"overdue": summary["overdue"], **{f"overdue_{k}": v for k, v in summary["by_status"].items()}}


register(Job("reconcile_orders", enqueue=_single, handle=_reconcile_orders, aliases=("reconcile",),
             description="Settle orders a failure left settling/refund_pending; resend pending refunds"))
register(Job("claim_deadline_sweep", enqueue=_single, handle=_claim_deadline_sweep,
             description="Count claims past their statutory decision deadline"))


# ---- bulk enrolment (DOMAIN §10): services/bulk.py ----------------------------------------------------------
def _bulk_enqueue(context: RunContext) -> Iterable[tuple[str, Any]]:
    from chalicelib import deps
    from chalicelib.services import bulk

    return bulk.enqueue(deps.bulk_ports(), context)


def _bulk_row(item: WorkItem) -> str:
    from chalicelib import deps
    from chalicelib.services import bulk

    return bulk.handle_row(deps.bulk_ports(), item)


register(Job("bulk_enrolment", enqueue=_bulk_enqueue, handle=_bulk_row,
             description="Bulk enrolment (DOMAIN §10): one list row, exactly once per batch and phase"))


# ---- auto-renewal (DOMAIN §9, services/renewals.py): one item per (policy, next plan) ---------------------------
def renewal_ports():
    from chalicelib import deps
    from chalicelib.services.renewals import RenewalPorts

    return RenewalPorts(orders=deps.order_ports(), notifier=deps.notifications())


def _renewal_mandates(due: str):
    def enqueue(run: RunContext) -> Iterable[tuple[str, Any]]:
        from chalicelib import deps
        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.services.renewals import apply_platform_stops, mandates

        if due == "deductions":  # stops given on the platform's channel count before any deduction is judged
            apply_platform_stops(renewal_ports(), run.now)
        for plan_id, policy_id in mandates(deps.table(), run.now.astimezone(CHINA_TZ).date(), due):
            yield f"{policy_id}>{plan_id}", {"policy_id": policy_id, "plan_id": plan_id}
    return enqueue


def _renewal_reads(due: str):
    """One message's mandates read together (a few BatchGetItem calls), handed to each item."""
    def prepare(items: list[WorkItem]):
        from chalicelib import deps
        from chalicelib.services.renewals import read_mandates

        return read_mandates(deps.table(), [(i.payload["policy_id"], i.payload["plan_id"]) for i in items], due)
    return prepare


def _renewal_notice(item: WorkItem) -> dict[str, int]:
    from chalicelib.services.renewals import notice_one, outcome_counts

    plan_id = item.payload["plan_id"]
    outcome = notice_one(renewal_ports(), item.payload["policy_id"], plan_id, item.now, reads=item.prepared)
    return outcome_counts(("noticed", "skipped"), outcome, plan_id)


def _renewal_deduction(item: WorkItem) -> dict[str, int]:
    from chalicelib.services.renewals import deduct_one, outcome_counts

    plan_id = item.payload["plan_id"]
    outcome = deduct_one(renewal_ports(), item.payload["policy_id"], plan_id, item.now, reads=item.prepared)
    return outcome_counts(("renewed", "failed", "skipped"), outcome, plan_id)


register(Job("renewal_notices", enqueue=_renewal_mandates("notices"), handle=_renewal_notice,
             prepare=_renewal_reads("notices"),
             description="Auto-renewal confirmation notices (代扣代缴确认信息) for the next plans due"))
register(Job("renewal_deductions", enqueue=_renewal_mandates("deductions"), handle=_renewal_deduction,
             prepare=_renewal_reads("deductions"),
             description="Auto-renewal deductions: one per consenting, noticed policy; a new policy each"))

# ---- the jobs' plain functions (also called directly by services tests) -------------------------------------------
def reconcile_orders(event: Any = None) -> dict[str, int]:
    """Settle orders a failure left `settling`/`refund_pending`, resend pending refunds, at the service clock."""
    from chalicelib import deps

    return _reconcile_orders(WorkItem(run_id="", job="reconcile_orders", item_id="", payload={}, attempt=1,
                                      message_key="", now=deps.clock().now()))


def claim_deadline_summary(today) -> dict[str, Any]:
    """Count the claims past their statutory decision deadline (15 working days, 001 §五) by status. The WARNING
    line is what the deadline alarm's metric filter counts; staff see the same claims first in their queue."""
    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.claims import overdue_claims

    overdue = overdue_claims(deps.claim_ports(), today)
    by_status: dict[str, int] = {}
    for claim in overdue:
        by_status[claim.status] = by_status.get(claim.status, 0) + 1
    summary = {"as_of": today.isoformat(), "overdue": len(overdue), "by_status": by_status,
               "oldest_decision_due": overdue[0].decision_due.isoformat() if overdue else None}
    if overdue:
        logger().warning("claims past their decision deadline", extra=summary)
    else:
        logger().info("no claim past its decision deadline", extra=summary)
    return summary


def claim_deadline_sweep(event: Any = None) -> dict[str, Any]:
    from chalicelib import deps

    return claim_deadline_summary(deps.clock().today())


def document_uploaded(event: Any) -> dict[str, int]:
    """S3 ObjectCreated records → verify the claim document each object belongs to (services.claims.documents)."""
    from urllib.parse import unquote_plus

    from chalicelib import deps
    from chalicelib.observability import logger
    from chalicelib.services.claims import verify_uploaded

    ports, now = deps.claim_ports(), deps.clock().now()
    counts: dict[str, int] = {}
    for record in (event or {}).get("Records", []):
        key = unquote_plus(((record.get("s3") or {}).get("object") or {}).get("key", ""))  # S3 URL-encodes keys
        outcome = verify_uploaded(ports, key, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    logger().info("uploaded documents checked", extra={"counts": counts})
    return counts


# ---- 免申即享 (DOMAIN §11): the settlement feed and claim payouts (services/settlement_feed.py) ------------------------
def feed_ports():
    from chalicelib import deps
    from chalicelib.adapters.repositories.feed_cursor import DynamoFeedCursor
    from chalicelib.services.settlement_feed import FeedPorts

    return FeedPorts(claims=deps.claim_ports(), cursor=DynamoFeedCursor(deps.table()))


def _settlement_records(run: RunContext) -> Iterable[tuple[str, Any]]:
    from chalicelib.services.settlement_feed import records

    return records(feed_ports())


def _settlement_record(item: WorkItem) -> dict[str, int]:
    from chalicelib.services.settlement_feed import handle

    return handle(feed_ports(), item.item_id, item.payload, item.now)


def _payout_work(run: RunContext) -> Iterable[tuple[str, Any]]:
    from chalicelib import deps
    from chalicelib.services.settlement_feed import payout_work

    return payout_work(deps.claim_ports())


def _payout_claim(item: WorkItem) -> dict[str, int]:
    from chalicelib import deps
    from chalicelib.services.settlement_feed import sweep_claim

    return sweep_claim(deps.claim_ports(), item.item_id, item.now)


def _payout_reconciliation(item: WorkItem) -> dict[str, int]:
    from datetime import timedelta

    from chalicelib import deps
    from chalicelib.adapters.clock import CHINA_TZ
    from chalicelib.services.settlement_feed import reconcile_day

    today = item.now.astimezone(CHINA_TZ).date()
    day = date_param(item.params.get("day")) or today - timedelta(days=1)
    return reconcile_day(deps.claim_ports(), day, item.now)


def date_param(value: Any):
    from datetime import date

    return date.fromisoformat(value) if isinstance(value, str) and value else None


register(Job("settlement_feed", enqueue=_settlement_records, handle=_settlement_record,
             description="免申即享: the 医保 platform's settlement records after the cursor → automatic claims"))
register(Job("payout_sweep", enqueue=_payout_work, handle=_payout_claim,
             description="Claim transfers not yet confirmed (looked up by key) and claims whose payee appeared"))
register(Job("payout_reconciliation", enqueue=_single, handle=_payout_reconciliation,
             description="Daily payout reconciliation (对账): the gateway's statement against our claims"))


# ---- the daily platform reconciliation (对账, DOMAIN §9.10): services/platform_reconciliation.py -------------------
def reconciliation_ports():
    from chalicelib import deps
    from chalicelib.adapters.repositories.reconciliation import DynamoReconciliationDifferences
    from chalicelib.services.platform_reconciliation import ReconciliationPorts

    return ReconciliationPorts(orders=deps.order_ports(), differences=DynamoReconciliationDifferences(deps.table()))


def _platform_reconciliation(item: WorkItem) -> dict[str, int]:
    from datetime import timedelta

    from chalicelib.adapters.clock import CHINA_TZ
    from chalicelib.services.platform_reconciliation import reconcile_day

    day = date_param(item.params.get("day")) or item.now.astimezone(CHINA_TZ).date() - timedelta(days=1)
    return reconcile_day(reconciliation_ports(), day, item.now)


register(Job("platform_reconciliation", enqueue=_single, handle=_platform_reconciliation,
             description="Daily platform reconciliation (对账): our personal-account deductions and refunds "
                         "(orders and renewals) against the 医保 platform's statement"))
