"""Per-stage knobs and the scheduled jobs: the only numbers a city changes to deploy.

Pick a stage with `-c stage=dev|prod` (default dev). docs/deploy.md explains where each number comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

APP_NAME = "huiminbao"  # must equal app_name in .chalice/config.json (it names the REST API)
API_GATEWAY_STAGE = "api"  # must equal api_gateway_stage of the dev/prod stages in .chalice/config.json


@dataclass(frozen=True)
class JobWorker:
    """The SQS-triggered worker of the fan-out job queue (app.py `job_worker`, chalicelib/services/fanout.py).

    Scheduled jobs are defined once, in chalicelib/schedules.py (app.py reads the same file); the stack turns each
    into an EventBridge rule for the handler app.py defines under that name.
    """

    handler: str = "job_worker"
    timeout_seconds: int = 300  # a message of a few hundred items takes seconds; the queue's visibility is 6x
    max_receives: int = 5  # deliveries of one message before SQS moves it to the dead-letter queue
    oldest_message_alarm_seconds: int = 3600


JOB_WORKER = JobWorker()


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
    # The job worker's event source mapping: at most this many concurrent invocations (docs/deploy.md, "Job queue").
    job_worker_concurrency: int = 10
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
        job_worker_concurrency=200,
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
