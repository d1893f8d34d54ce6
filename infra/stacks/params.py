"""Per-stage knobs and the scheduled jobs: the only numbers a city changes to deploy.

Pick a stage with `-c stage=dev|prod` (default dev). docs/deploy.md explains where each number comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

APP_NAME = "huiminbao"  # must equal app_name in .chalice/config.json (it names the REST API)
API_GATEWAY_STAGE = "api"  # must equal api_gateway_stage of the dev/prod stages in .chalice/config.json


@dataclass(frozen=True)
class Schedule:
    """One batch job: an app Lambda handler the stack invokes from an EventBridge rule.

    `handler` is the Python function name in app.py, defined either as
    `@app.lambda_function(name=handler)` or `@app.schedule(...)`. The stack owns the timing: when the
    app declares `@app.schedule`, the expression written there is dropped and this one is used instead,
    so there is exactly one rule per job. A handler the app does not define yet gets no rule at all
    (no placeholder targets); synth prints which ones are missing.
    EventBridge cron is in UTC: Beijing time is UTC+8.
    """

    handler: str
    expression: str
    description: str


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "renewal_run",
        "cron(0 1 1 12 ? *)",  # 09:00 Beijing on 1 December, a month before the plan year starts
        "Yearly auto-renewal run (自动续保): renew consenting members for the next plan year",
    ),
    Schedule(
        "claim_deadline_sweep",
        "cron(0 18 * * ? *)",  # 02:00 Beijing every day, outside the enrolment and claims peak
        "Daily claim-deadline sweep (理赔时效): flag claims whose decision or document deadline passed",
    ),
    Schedule(
        "reconcile_orders",
        "cron(15 * * * ? *)",  # hourly at :15, after WeChat Pay's own retries have settled
        "Hourly order reconciliation (对账): query WeChat Pay for orders still pending",
    ),
)


@dataclass(frozen=True)
class StageParams:
    name: str
    # API Gateway stage-wide throttle (all routes). The regional account quota is 10,000 rps / 5,000 burst
    # shared by every REST API in the account, so prod keeps headroom under it.
    api_rate_limit: int
    api_burst_limit: int
    # Keep data when the stack is deleted; prod also gets DynamoDB deletion protection.
    retain_data: bool
    log_retention_days: int
    # DynamoDB warm throughput (units/second) to pre-warm for a launch; None = on-demand defaults.
    warm_read_units: int | None = None
    warm_write_units: int | None = None
    gsi_warm_read_units: int | None = None
    gsi_warm_write_units: int | None = None
    # Alarm thresholds (per 5 minutes).
    api_5xx_threshold: int = 5
    lambda_error_threshold: int = 5
    alarm_email: str | None = None
    # Non-secret settings for the app (chalicelib/config.py names), e.g. HMB_MEDICAL_PLATFORM_URL,
    # HMB_PUBLIC_BASE_URL. Set them here or per deploy with `-c env.HMB_MEDICAL_PLATFORM_URL=https://...`.
    environment: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Account security (issue #10): the one browser origin allowed (the H5 page's; "" = none, never "*"),
    # WAF per-address ceilings per 5 minutes (high: carrier-grade NAT), security-event alarm per 5 minutes.
    cors_origin: str = ""
    waf_address_limit: int = 20000
    waf_sms_address_limit: int = 3000
    security_events_threshold: int = 50


STAGES: dict[str, StageParams] = {
    "dev": StageParams(
        name="dev",
        api_rate_limit=50,
        api_burst_limit=100,
        retain_data=False,
        log_retention_days=30,
    ),
    "prod": StageParams(
        name="prod",
        # 700 enrolments/s x ~6 calls = 4,200 rps at the launch peak (docs/deploy.md); 5,000 leaves 20%
        # headroom and half the account quota for anything else in the region.
        api_rate_limit=5000,
        api_burst_limit=2500,
        retain_data=True,
        log_retention_days=365,  # >= 6 months of logs (网络安全法 art. 21)
        # 700 enrolments/s x 21 table WRU = 14,700 WRU/s -> pre-warm writes to 19,000 (1.3x). Reads are
        # 700 x 10 RRU = 7,000 RRU/s, under the 12,000 a new on-demand table already sustains; each GSI peaks
        # at ~2,100 WRU/s, under its default 4,000, so GSIs need no pre-warm (docs/deploy.md, "Launch peak").
        warm_read_units=12000,
        warm_write_units=19000,
        api_5xx_threshold=50,
        lambda_error_threshold=50,
    ),
}


def stage_params(stage: str, context: dict | None = None) -> StageParams:
    """The stage's parameters, with `env.NAME=value` and `alarm_email=...` context values applied."""
    try:
        params = STAGES[stage]
    except KeyError:
        raise SystemExit(f"unknown stage {stage!r}: use -c stage=" + "|".join(STAGES)) from None
    context = context or {}
    if "env.HMB_STAGE" in context or "env.HMB_CORS_ORIGIN" in context:
        raise SystemExit("HMB_STAGE and HMB_CORS_ORIGIN belong to the stage: they cannot be overridden with -c env.*")
    if params.cors_origin == "*":
        raise SystemExit(f"stage {stage}: cors_origin must name the H5 page's origin, never *")
    environment = {**params.environment}
    environment.update({k[len("env."):]: str(v) for k, v in context.items() if k.startswith("env.HMB_")})
    return replace(params, environment=environment, alarm_email=context.get("alarm_email") or params.alarm_email)
