import json

import boto3
import moto
import pytest

from chalicelib.config import get_settings, reset_settings

NAMES = ("HMB_STAGE", "HMB_TOKEN_SECRET", "HMB_STAFF_TOKEN_SECRET", "HMB_ID_HASH_KEY", "HMB_ID_DATA_KEY",
         "HMB_SECRETS_ARN", "HMB_CORS_ORIGIN")


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


# ---- fail closed (issue #10 item 3) ------------------------------------------------------------------------
def _deployed(env, stage="prod"):
    env["HMB_STAGE"] = stage
    env["HMB_TOKEN_SECRET"] = "t" * 40
    env["HMB_STAFF_TOKEN_SECRET"] = "s" * 40
    env["HMB_ID_HASH_KEY"] = "11" * 32


@pytest.mark.parametrize("stage", [None, "", "staging", "LOCAL"])
def test_a_process_without_a_known_stage_refuses_to_start(clean_env, stage):
    from chalicelib.config import SettingsError

    if stage is not None:
        clean_env["HMB_STAGE"] = stage
    with pytest.raises(SettingsError, match="HMB_STAGE"):
        get_settings()


def test_the_local_stage_never_runs_inside_lambda(clean_env, monkeypatch):
    from chalicelib.config import SettingsError

    clean_env["HMB_STAGE"] = "local"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "huiminbao-prod-APIHandler")
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    with pytest.raises(SettingsError, match="Lambda"):
        get_settings()


def test_a_deployed_stage_never_allows_every_origin(clean_env, monkeypatch):
    from chalicelib.config import SettingsError

    _deployed(clean_env)
    monkeypatch.setenv("HMB_CORS_ORIGIN", "*")
    with pytest.raises(SettingsError, match="CORS"):
        get_settings()
    monkeypatch.setenv("HMB_CORS_ORIGIN", "https://h5.example.cn")
    reset_settings()
    assert get_settings().cors_origin == "https://h5.example.cn"


def test_a_deployed_stage_gets_no_development_key(clean_env):
    _deployed(clean_env)
    s = get_settings()
    assert s.id_data_key is None and s.medical_platform_secret is None and s.wechat_appid == ""


def test_a_deployed_function_with_invalid_settings_answers_503_to_every_request(clean_env, monkeypatch):
    """The app machinery checks settings before anything else and answers in the contract's shape."""
    import json as _json

    from chalice import Chalice
    from chalice.test import Client

    from chalicelib.api.http import endpoint

    app = Chalice(app_name="fail-closed")

    @endpoint(app, "/probe", summary="probe", auth="none")
    def probe(ctx):
        return {"ok": True}

    clean_env["HMB_STAGE"] = "prod"  # no secrets at all
    with Client(app) as client:
        resp = client.http.get("/probe")
    assert resp.status_code == 503
    assert _json.loads(resp.body)["code"] == "SERVICE_MISCONFIGURED"


def test_every_setting_is_read_only_through_config():
    """No module reads HMB_* variables itself (adapters take them from Settings)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "chalicelib"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "config.py" and re.search(r"environ(\.get)?[\[(]\s*[\"']HMB_", p.read_text())
                 and p.name not in ("http.py",)]  # http.py: CORS origin at route registration (packaging time)
    assert offenders == []
