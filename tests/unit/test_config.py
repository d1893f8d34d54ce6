import json

import boto3
import moto
import pytest

from chalicelib.config import get_settings, reset_settings

NAMES = ("HMB_STAGE", "HMB_TOKEN_SECRET", "HMB_STAFF_TOKEN_SECRET", "HMB_ID_HASH_KEY", "HMB_ID_DATA_KEY", "HMB_SECRETS_ARN")


@pytest.fixture()
def clean_env():
    import os

    saved = {n: os.environ.pop(n, None) for n in NAMES}  # get_settings writes secrets into os.environ
    reset_settings()
    yield os.environ
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value
    reset_settings()


def test_deployed_stage_reads_its_keys_from_secrets_manager(clean_env):
    with moto.mock_aws():
        sm = boto3.client("secretsmanager", region_name="cn-north-1")
        a = sm.create_secret(Name="app", SecretString=json.dumps({"HMB_TOKEN_SECRET": "t" * 40,
                                                                  "HMB_STAFF_TOKEN_SECRET": "s" * 40}))["ARN"]
        b = sm.create_secret(Name="ids", SecretString=json.dumps({"HMB_ID_HASH_KEY": "11" * 32,
                                                                  "HMB_ID_DATA_KEY": "22" * 32}))["ARN"]
        clean_env["HMB_STAGE"] = "prod"
        clean_env["HMB_SECRETS_ARN"] = f"{a},{b}"
        s = get_settings()
    assert s.token_secret == "t" * 40
    assert s.id_hash_key == bytes.fromhex("11" * 32)
    assert not s.is_local


def test_deployed_stage_without_secrets_refuses_to_start(clean_env):
    clean_env["HMB_STAGE"] = "prod"
    with pytest.raises(RuntimeError):
        get_settings()


def test_staff_and_member_tokens_need_different_secrets(clean_env):
    clean_env["HMB_STAGE"] = "prod"
    clean_env["HMB_TOKEN_SECRET"] = "same" * 10
    clean_env["HMB_STAFF_TOKEN_SECRET"] = "same" * 10
    with pytest.raises(RuntimeError, match="different"):
        get_settings()
