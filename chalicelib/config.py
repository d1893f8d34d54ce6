"""Typed settings, in one place, read from the environment when first needed (never at import).

Every environment variable the app reads is declared once in `SETTINGS` below: its name, type, what the local stage
uses when it is unset, and whether a deployed stage must be given it (`required`) and where it comes from
(`secret`: a key of one of the Secrets Manager JSON secrets the stack creates; otherwise the function's environment).
The infra tests check that the stack provisions every required setting for dev and prod.

Stages fail closed: HMB_STAGE must name a known stage; `local` (published development keys, simulators, sandbox
routes) never runs inside AWS Lambda; a deployed stage without its required settings refuses to serve
(`SettingsError`, answered as 503 SERVICE_MISCONFIGURED by the API machinery).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

LOCAL = "local"
DEPLOYED_STAGES = ("dev", "prod")
STAGES = (LOCAL, *DEPLOYED_STAGES)


class SettingsError(RuntimeError):
    """The process was started with settings it must not serve with. The message names variables, never values."""


@dataclass(frozen=True)
class Setting:
    env: str
    kind: str = "str"  # str | int | hex32 | csv
    default: Any = None  # deployed stages' value when unset (None: unset)
    local: Any = None  # the local stage's value when unset (None: same as default)
    required: bool = False  # a deployed stage must be given it
    secret: bool = False  # provisioned through Secrets Manager (HMB_SECRETS_ARN), not the function environment
    description: str = ""


# Development-only values: used only when the stage is local and nothing else is configured.
_DEV_HASH_KEY = "6c6f63616c2d6f6e6c792d69642d686173682d6b65792d6e6f742d7365637265"
_DEV_DATA_KEY = "6c6f63616c2d6f6e6c792d646174612d6b65792d6e6f742d612d736563726574"

SETTINGS: dict[str, Setting] = {s.env: s for s in (
    Setting("HMB_TABLE", default="huiminbao", required=True, description="DynamoDB table"),
    Setting("HMB_BUCKET", default="huiminbao-documents", required=True, description="claim documents bucket"),
    Setting("HMB_TOKEN_SECRET", local="local-only-token-secret-not-for-deployed-stages", required=True, secret=True),
    Setting("HMB_STAFF_TOKEN_SECRET", local="local-only-staff-token-secret-not-deployed", required=True, secret=True),
    Setting("HMB_TOKEN_TTL", "int", default=7200),
    Setting("HMB_STAFF_ISSUER", default="huiminbao-staff"),
    Setting("HMB_ID_HASH_KEY", "hex32", local=_DEV_HASH_KEY, required=True, secret=True),
    Setting("HMB_ID_DATA_KEY", "hex32", local=_DEV_DATA_KEY, secret=True,
            description="plain AES key: local only; deployed stages use HMB_WRAPPED_DATA_KEY"),
    Setting("HMB_WRAPPED_DATA_KEY", secret=True, description="the ID data key wrapped by KMS (added after deploy)"),
    Setting("HMB_KMS_KEY_ID", required=True, description="set by the stack; the cipher needs it with a wrapped key"),
    Setting("HMB_MEDICAL_PLATFORM_URL", required=True, secret=True),
    Setting("HMB_MEDICAL_PLATFORM_SECRET", local="local-only-medical-platform-secret", required=True, secret=True),
    Setting("HMB_MEDICAL_PLATFORM_APP_ID", default="huiminbao", secret=True),
    Setting("HMB_WECHAT_APPID", local="wx-sandbox-appid", required=True, secret=True),
    Setting("HMB_WECHAT_MCHID", local="1900000001", required=True, secret=True),
    Setting("HMB_WECHAT_APP_SECRET", default="", required=True, secret=True),
    Setting("HMB_WECHATPAY_PRIVATE_KEY", required=True, secret=True, description="merchant API key, PEM"),
    Setting("HMB_WECHATPAY_CERT_SERIAL", required=True, secret=True, description="merchant certificate serial"),
    Setting("HMB_WECHATPAY_APIV3_KEY", required=True, secret=True),
    Setting("HMB_WECHATPAY_PUBLIC_KEY", required=True, secret=True, description="微信支付公钥, PEM"),
    Setting("HMB_WECHATPAY_PUBLIC_KEY_ID", required=True, secret=True),
    Setting("HMB_WECHAT_SUBSCRIBE_TEMPLATES", default="{}", secret=True, description="JSON: event → template id"),
    Setting("HMB_WECHAT_MINIPROGRAM_STATE", default="formal"),
    Setting("HMB_SMS_URL", required=True, secret=True),
    Setting("HMB_SMS_TOKEN", required=True, secret=True),
    Setting("HMB_SMS_SIGN_NAME", default="惠民保"),
    Setting("HMB_SMS_TEMPLATE", default="LOGIN_CODE"),
    Setting("HMB_CAPTCHA_URL", required=True, secret=True, description="captcha ticket verification endpoint"),
    Setting("HMB_CAPTCHA_SECRET", required=True, secret=True),
    Setting("HMB_PAYOUT_URL", required=True, secret=True, description="the insurer's payment gateway (payouts)"),
    Setting("HMB_PAYOUT_SECRET", required=True, secret=True, description="shared with the payment gateway"),
    Setting("HMB_JOBS_QUEUE_URL", required=True, description="the fan-out job queue (set by the stack)"),
    Setting("HMB_JOBS_DLQ_URL", required=True, description="its dead-letter queue (set by the stack)"),
    Setting("HMB_DOCUMENT_MAX_BYTES", "int", default=10 * 1024 * 1024),
    Setting("HMB_PUBLIC_BASE_URL", default="http://127.0.0.1:8000"),
    Setting("HMB_CORS_ORIGIN", default="", local="*",
            description="the one origin allowed to call the API from a browser (the H5 page); never * deployed; "
                        "empty: no cross-origin calls"),
    # Login abuse ceilings (per client address, per hour; carrier-grade NAT puts many residents behind one address).
    Setting("HMB_SMS_ADDRESS_CHALLENGE_PER_HOUR", "int", default=600, local=200),
    Setting("HMB_SMS_ADDRESS_LIMIT_PER_HOUR", "int", default=3000, local=400),
    Setting("HMB_SMS_VERIFY_ADDRESS_LIMIT_PER_HOUR", "int", default=6000, local=800),
    Setting("HMB_SMS_GLOBAL_PER_MINUTE", "int", default=30000, local=600),
)}


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    bucket_name: str
    region: str
    token_secret: str
    staff_token_secret: str  # a separate key: whoever mints staff tokens cannot mint members' tokens
    token_ttl_seconds: int
    id_hash_key: bytes
    id_data_key: bytes | None  # 32-byte AES key (local); deployed stages unwrap wrapped_data_key with KMS
    wrapped_data_key: str | None
    kms_key_id: str | None
    wechat_appid: str
    wechat_mchid: str
    wechat_app_secret: str
    medical_platform_url: str | None
    medical_platform_secret: str | None
    medical_platform_app_id: str
    staff_token_issuer: str
    public_base_url: str
    cors_origin: str
    sms_address_challenge_per_hour: int
    sms_address_limit_per_hour: int
    sms_verify_address_limit_per_hour: int
    sms_global_per_minute: int
    payout_url: str | None  # the insurer's payment gateway (docs/payouts.md); the simulator when unset locally
    # The fan-out job queue (chalicelib/services/fanout.py) and its dead-letter queue; the stack provides both URLs.
    # Unset in the local stage: the queue adapter finds (or creates) queues of these names on the moto server.
    jobs_queue_url: str | None = None
    jobs_dead_letter_url: str | None = None
    values: dict[str, Any] = field(default_factory=dict, repr=False)  # every declared setting, by env name

    @property
    def is_local(self) -> bool:
        return self.stage == LOCAL

    def get(self, env: str) -> Any:
        """A declared setting by its variable name (adapters: HMB_SMS_URL, HMB_WECHATPAY_* ...)."""
        if env not in SETTINGS:
            raise KeyError(f"{env} is not declared in chalicelib/config.py SETTINGS")
        return self.values.get(env)

    def require(self, *envs: str) -> list[Any]:
        """The values of settings an adapter cannot work without; SettingsError naming those missing."""
        missing = [e for e in envs if self.get(e) in (None, "")]
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        return [self.get(e) for e in envs]


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{setting.env} must be an integer") from None
    if setting.kind == "hex32":
        try:
            data = bytes.fromhex(raw)
        except ValueError:
            data = b""
        if len(data) != 32:
            raise SettingsError(f"{setting.env} must be 32 bytes of hex")
        return data
    return raw


def _value(setting: Setting, local: bool) -> Any:
    raw = os.environ.get(setting.env)
    if raw not in (None, ""):
        return _parse(setting, raw)
    fallback = setting.local if local and setting.local is not None else setting.default
    return _parse(setting, fallback) if isinstance(fallback, str) and setting.kind != "str" else fallback


def _load_secrets(arns: str) -> dict[str, str]:
    """Deployed stages: HMB_SECRETS_ARN lists Secrets Manager secrets whose JSON keys are the HMB_* names above.
    Read once per container (first use), never at import; values are not logged."""
    import json

    import boto3

    client = boto3.client("secretsmanager")
    values: dict[str, str] = {}
    for arn in filter(None, (a.strip() for a in arns.split(","))):
        payload = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        values.update({k: str(v) for k, v in payload.items() if k.startswith("HMB_") and v not in (None, "")})
    return values


def _stage() -> str:
    stage = os.environ.get("HMB_STAGE", "")
    if stage not in STAGES:
        raise SettingsError(f"HMB_STAGE must be one of {', '.join(STAGES)}")
    if stage == LOCAL and os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_EXECUTION_ENV"):
        raise SettingsError("the local stage (development keys, simulators) never runs in AWS Lambda")
    return stage


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    stage = _stage()
    local = stage == LOCAL
    arns = os.environ.get("HMB_SECRETS_ARN", "")
    if not local and arns and arns != "set-by-infra":
        for name, value in _load_secrets(arns).items():
            os.environ.setdefault(name, value)
    values = {env: _value(s, local) for env, s in SETTINGS.items()}
    if values["HMB_TOKEN_SECRET"] and values["HMB_STAFF_TOKEN_SECRET"] == values["HMB_TOKEN_SECRET"]:
        raise SettingsError("staff and member tokens must be signed with different secrets")
    if not local:
        missing = [env for env, s in SETTINGS.items() if s.required and values[env] in (None, "")
                   and env not in _CHECKED_BY_ADAPTERS]
        if missing:
            raise SettingsError(f"missing settings for stage {stage}: {', '.join(missing)}")
        if values["HMB_CORS_ORIGIN"] == "*" or "," in values["HMB_CORS_ORIGIN"]:
            raise SettingsError("HMB_CORS_ORIGIN must name one origin (not *) outside the local stage")
    return Settings(
        stage=stage,
        table_name=values["HMB_TABLE"],
        bucket_name=values["HMB_BUCKET"],
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1",
        token_secret=values["HMB_TOKEN_SECRET"],
        staff_token_secret=values["HMB_STAFF_TOKEN_SECRET"],
        token_ttl_seconds=values["HMB_TOKEN_TTL"],
        id_hash_key=values["HMB_ID_HASH_KEY"],
        id_data_key=values["HMB_ID_DATA_KEY"],
        wrapped_data_key=values["HMB_WRAPPED_DATA_KEY"],
        kms_key_id=values["HMB_KMS_KEY_ID"],
        wechat_appid=values["HMB_WECHAT_APPID"] or "",
        wechat_mchid=values["HMB_WECHAT_MCHID"] or "",
        wechat_app_secret=values["HMB_WECHAT_APP_SECRET"] or "",
        medical_platform_url=values["HMB_MEDICAL_PLATFORM_URL"],
        medical_platform_secret=values["HMB_MEDICAL_PLATFORM_SECRET"],
        medical_platform_app_id=values["HMB_MEDICAL_PLATFORM_APP_ID"],
        staff_token_issuer=values["HMB_STAFF_ISSUER"],
        public_base_url=values["HMB_PUBLIC_BASE_URL"],
        cors_origin=values["HMB_CORS_ORIGIN"] or "",
        sms_address_challenge_per_hour=values["HMB_SMS_ADDRESS_CHALLENGE_PER_HOUR"],
        sms_address_limit_per_hour=values["HMB_SMS_ADDRESS_LIMIT_PER_HOUR"],
        sms_verify_address_limit_per_hour=values["HMB_SMS_VERIFY_ADDRESS_LIMIT_PER_HOUR"],
        sms_global_per_minute=values["HMB_SMS_GLOBAL_PER_MINUTE"],
        payout_url=values["HMB_PAYOUT_URL"],
        jobs_queue_url=values["HMB_JOBS_QUEUE_URL"],
        jobs_dead_letter_url=values["HMB_JOBS_DLQ_URL"],
        values=values,
    )


# Required in deployed stages, but checked by the adapter that uses them when it is built (so one missing merchant
# field stops payment, not identity binding) — still provisioned by the stack (infra tests).
_CHECKED_BY_ADAPTERS = frozenset({
    "HMB_WECHATPAY_PRIVATE_KEY", "HMB_WECHATPAY_CERT_SERIAL", "HMB_WECHATPAY_APIV3_KEY", "HMB_WECHATPAY_PUBLIC_KEY",
    "HMB_WECHATPAY_PUBLIC_KEY_ID", "HMB_WECHAT_APP_SECRET", "HMB_WECHAT_APPID", "HMB_WECHAT_MCHID", "HMB_SMS_URL", "HMB_SMS_TOKEN", "HMB_CAPTCHA_URL",
    "HMB_CAPTCHA_SECRET", "HMB_MEDICAL_PLATFORM_URL", "HMB_MEDICAL_PLATFORM_SECRET", "HMB_KMS_KEY_ID",
    "HMB_PAYOUT_URL", "HMB_PAYOUT_SECRET", "HMB_JOBS_QUEUE_URL", "HMB_JOBS_DLQ_URL",
})


def reset_settings() -> None:
    get_settings.cache_clear()
