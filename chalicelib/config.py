"""Typed settings, read from the environment when first needed (never at import)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

LOCAL = "local"


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
    id_data_key: bytes | None  # 32-byte AES key (local); deployed stages unwrap HMB_WRAPPED_DATA_KEY with KMS
    kms_key_id: str | None
    wechat_appid: str
    wechat_mchid: str
    wechat_app_secret: str
    medical_platform_url: str | None
    staff_token_issuer: str
    public_base_url: str
    payout_url: str | None  # the insurer's payment gateway (docs/payouts.md); the simulator when unset locally

    @property
    def is_local(self) -> bool:
        return self.stage == LOCAL


def _key(env: str, default: str) -> bytes:
    raw = os.environ.get(env, default)
    data = bytes.fromhex(raw)
    if len(data) != 32:
        raise ValueError(f"{env} must be 32 bytes of hex")
    return data


# Development-only keys: used when the stage is local and nothing else is configured.
_DEV_HASH_KEY = "6c6f63616c2d6f6e6c792d69642d686173682d6b65792d6e6f742d7365637265"
_DEV_DATA_KEY = "6c6f63616c2d6f6e6c792d646174612d6b65792d6e6f742d612d736563726574"


def _load_secrets(arns: str) -> dict[str, str]:
    """Deployed stages: HMB_SECRETS_ARN lists Secrets Manager secrets whose JSON keys are the HMB_* names below.
    Read once per container (first use), never at import; values are not logged."""
    import json

    import boto3

    client = boto3.client("secretsmanager")
    values: dict[str, str] = {}
    for arn in filter(None, (a.strip() for a in arns.split(","))):
        payload = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        values.update({k: str(v) for k, v in payload.items() if k.startswith("HMB_") and v not in (None, "")})
    return values


def _staff_secret(local: bool, member_secret: str) -> str:
    secret = os.environ.get("HMB_STAFF_TOKEN_SECRET") or ("local-only-staff-token-secret-not-deployed" if local else "")
    if not secret:
        raise RuntimeError("HMB_STAFF_TOKEN_SECRET is required outside the local stage")
    if secret == member_secret:
        raise RuntimeError("staff and member tokens must be signed with different secrets")
    return secret


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    stage = os.environ.get("HMB_STAGE", LOCAL)
    arns = os.environ.get("HMB_SECRETS_ARN", "")
    if stage != LOCAL and arns and arns != "set-by-infra":
        for name, value in _load_secrets(arns).items():
            os.environ.setdefault(name, value)
    local = stage == LOCAL
    token_secret = os.environ.get("HMB_TOKEN_SECRET") or ("local-only-token-secret-not-for-deployed-stages" if local else "")
    if not token_secret:
        raise RuntimeError("HMB_TOKEN_SECRET is required outside the local stage")
    return Settings(
        stage=stage,
        table_name=os.environ.get("HMB_TABLE", "huiminbao"),
        bucket_name=os.environ.get("HMB_BUCKET", "huiminbao-documents"),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1",
        token_secret=token_secret,
        staff_token_secret=_staff_secret(local, token_secret),
        token_ttl_seconds=int(os.environ.get("HMB_TOKEN_TTL", "7200")),
        id_hash_key=_key("HMB_ID_HASH_KEY", _DEV_HASH_KEY if local else "00"),
        id_data_key=_key("HMB_ID_DATA_KEY", _DEV_DATA_KEY) if local or os.environ.get("HMB_ID_DATA_KEY") else None,
        kms_key_id=os.environ.get("HMB_KMS_KEY_ID"),
        wechat_appid=os.environ.get("HMB_WECHAT_APPID", "wx-sandbox-appid"),
        wechat_mchid=os.environ.get("HMB_WECHAT_MCHID", "1900000001"),
        wechat_app_secret=os.environ.get("HMB_WECHAT_APP_SECRET", ""),
        medical_platform_url=os.environ.get("HMB_MEDICAL_PLATFORM_URL"),
        staff_token_issuer=os.environ.get("HMB_STAFF_ISSUER", "huiminbao-staff"),
        public_base_url=os.environ.get("HMB_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
        payout_url=os.environ.get("HMB_PAYOUT_URL"),
    )


def reset_settings() -> None:
    get_settings.cache_clear()
