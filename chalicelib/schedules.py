"""Every scheduled job, once: read by app.py (which defines one Lambda handler per entry) and by the CDK stack
(which gives each handler its EventBridge rule, with retries and a dead-letter queue). tests/infra asserts the two
agree. Adding a schedule is one entry here naming a job of chalicelib/jobs.py's registry.

Pure data: no imports beyond the standard library (the CDK app loads this file by path). EventBridge cron is in UTC;
Beijing time is UTC+8.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    handler: str  # the Lambda function's name (app.py handler) and its rule's
    expression: str  # EventBridge rate()/cron(), UTC
    description: str
    job: str = ""  # the registered job the handler starts (default: same name as the handler)

    @property
    def job_name(self) -> str:
        return self.job or self.handler


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "reconcile_orders",
        "rate(10 minutes)",  # money a failure left between payment and cover is settled within minutes
        "Order reconciliation (对账): settle orders left settling/refund_pending, resend pending refunds",
    ),
    Schedule(
        "claim_deadline_sweep",
        "cron(0 18 * * ? *)",  # 02:00 Beijing every day, outside the enrolment and claims peak
        "Daily claim-deadline sweep (理赔时效): count claims past their decision deadline",
    ),
    Schedule(
        "renewal_notices",
        "cron(0 1 * * ? *)",  # 09:00 Beijing: a notice arrives in the morning; nothing to do outside notice days
        "Auto-renewal notices (代扣代缴确认信息) on the next plans' notice days",
    ),
    Schedule(
        "renewal_deductions",
        "cron(0 19 * * ? *)",  # 03:00 Beijing: deductions at night, outside the platform's daytime peak
        "Auto-renewal deductions (自动续保扣费) on and after the next plans' deduction days",
    ),
    Schedule(
        "settlement_feed",
        "rate(15 minutes)",  # 免申即享: a discharge today is a claim paid within the hour
        "免申即享: read the 医保 platform's settlement records after the cursor into automatic claims",
    ),
    Schedule(
        "payout_sweep",
        "rate(30 minutes)",  # a transfer the bank confirms later, or a payee given later, is paid within the hour
        "Claim payouts: confirm transfers by their key, pay approved claims whose payee appeared",
    ),
    Schedule(
        "payout_reconciliation",
        "cron(30 18 * * ? *)",  # 02:30 Beijing: yesterday's gateway statement against our claims
        "Daily payout reconciliation (对账) of claim transfers against the gateway's statement",
    ),
    Schedule(
        "platform_reconciliation",
        "cron(30 19 * * ? *)",  # 03:30 Beijing: yesterday's 医保 statement, after the night's renewal deductions start
        "Daily platform reconciliation (对账) of personal-account deductions and refunds against the 医保 statement",
    ),
)


def by_handler() -> dict[str, Schedule]:
    return {s.handler: s for s in SCHEDULES}
