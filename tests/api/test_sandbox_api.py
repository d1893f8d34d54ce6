"""Sandbox routes (local stage only): the service clock, the last SMS code, staff tokens, notifications."""
import json
from datetime import datetime, timedelta

import pytest

from chalicelib import deps
from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import account_id_of, login

JSON = {"Content-Type": "application/json"}
PHONE = "13800138000"


def put_clock(client, body):
    return client.http.put("/sandbox/clock", headers=JSON, body=body if isinstance(body, str) else json.dumps(body))


# ---- clock ---------------------------------------------------------------------------------------------------
def test_setting_the_clock_moves_the_services_time(client):
    resp = put_clock(client, {"now": "2021-04-15T10:00:00+08:00"})
    assert resp.status_code == 200
    assert json.loads(resp.body) == {"now": "2021-04-15T10:00:00+08:00", "fixed": True}
    assert deps.clock().now() == datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


def test_the_rules_read_the_moved_clock(client):
    put_clock(client, {"now": "2020-11-19T10:00:00+08:00"})
    plans = {p["plan_id"]: p["status"] for p in json.loads(client.http.get("/v1/plans").body)}
    assert plans["lishui-2021"] == "upcoming"
    put_clock(client, {"now": "2020-12-15T10:00:00+08:00"})
    plans = {p["plan_id"]: p["status"] for p in json.loads(client.http.get("/v1/plans").body)}
    assert plans["lishui-2021"] == "open"


def test_a_time_in_another_zone_is_shown_in_china_time(client):
    resp = put_clock(client, {"now": "2021-04-15T02:00:00Z"})
    assert json.loads(resp.body)["now"] == "2021-04-15T10:00:00+08:00"


def test_a_time_without_zone_is_china_time(client):
    put_clock(client, {"now": "2021-04-15T10:00:00"})
    assert deps.clock().now() == datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


def test_null_restores_real_time(client):
    put_clock(client, {"now": "2000-01-01T00:00:00+08:00"})
    resp = put_clock(client, {"now": None})
    assert json.loads(resp.body)["fixed"] is False
    assert abs(deps.clock().now() - datetime.now(CHINA_TZ)) < timedelta(minutes=1)


@pytest.mark.parametrize("body, code", [
    ({"now": "yesterday"}, "VALIDATION_FAILED"),
    ({"now": 1618452000}, "VALIDATION_FAILED"),
    ({}, "MISSING_FIELD"),
    ({"now": None, "speed": 2}, "UNKNOWN_FIELD"),
    ("{", "MALFORMED_JSON"),
])
def test_a_bad_clock_body_is_400(client, body, code):
    resp = put_clock(client, body)
    assert resp.status_code == 400
    assert json.loads(resp.body)["code"] == code


# ---- SMS -----------------------------------------------------------------------------------------------------
def test_the_last_code_sent_to_a_phone_can_be_read(client):
    deps.clock().set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    client.http.post("/v1/auth/sms", headers=JSON, body=json.dumps({"phone": PHONE}))
    resp = client.http.get(f"/sandbox/sms/{PHONE}")
    assert resp.status_code == 200
    body = json.loads(resp.body)
    assert body == {"code": deps.sms().last(PHONE).code, "sent_at": "2021-04-15T10:00:00+08:00"}
    verify = client.http.post("/v1/auth/sms/verify", headers=JSON,
                              body=json.dumps({"phone": PHONE, "code": body["code"]}))
    assert verify.status_code == 200


def test_a_phone_that_was_sent_nothing_is_404(client):
    resp = client.http.get(f"/sandbox/sms/{PHONE}")
    assert resp.status_code == 404
    assert json.loads(resp.body)["code"] == "SANDBOX_SMS_NONE"


def test_a_malformed_phone_is_400(client):
    resp = client.http.get("/sandbox/sms/12345")
    assert resp.status_code == 400
    assert json.loads(resp.body)["code"] == "PHONE_INVALID"


# ---- staff tokens --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["claims_reviewer", "bureau", "insurer_admin"])
def test_a_staff_token_carries_its_role(client, role):
    from chalicelib.api.auth import _decode

    resp = client.http.post("/sandbox/staff-token", headers=JSON, body=json.dumps({"role": role}))
    assert resp.status_code == 200
    principal = _decode(json.loads(resp.body)["token"])
    assert (principal.kind, principal.role) == ("staff", role)


def test_a_staff_token_is_refused_where_a_member_is_needed(client):
    token = json.loads(client.http.post("/sandbox/staff-token", headers=JSON,
                                        body=json.dumps({"role": "bureau"})).body)["token"]
    assert client.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize("body", [{"role": "superuser"}, {}, {"role": "bureau", "staff_id": "a b"}])
def test_an_unknown_role_is_400(client, body):
    resp = client.http.post("/sandbox/staff-token", headers=JSON, body=json.dumps(body))
    assert resp.status_code == 400


# ---- notifications -------------------------------------------------------------------------------------------
def test_notifications_to_a_phone_and_to_the_account_it_logs_in_to_are_listed(client, clock):
    headers = login(client, PHONE)
    deps.notifications().notify(account_id_of(headers), "claim_decided", {"claim_id": "C1"})
    deps.notifications().notify(PHONE, "authorization_granted", {"grantor": "张三"})
    deps.notifications().notify("someone-else", "claim_decided", {"claim_id": "C2"})
    resp = client.http.get(f"/sandbox/notifications?phone={PHONE}")
    assert resp.status_code == 200
    assert [n["template"] for n in json.loads(resp.body)] == ["claim_decided", "authorization_granted"]
    by_account = json.loads(client.http.get(f"/sandbox/notifications?account_id={account_id_of(headers)}").body)
    assert [n["data"] for n in by_account] == [{"claim_id": "C1"}]


def test_notifications_need_a_recipient(client):
    resp = client.http.get("/sandbox/notifications")
    assert resp.status_code == 400
    assert json.loads(resp.body)["code"] == "SANDBOX_RECIPIENT_REQUIRED"


# ---- not in deployed stages ----------------------------------------------------------------------------------
def test_sandbox_routes_do_not_exist_outside_the_local_stage():
    """The deployed app, imported fresh (a Chalice blueprint can be registered on one app only)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HMB_STAGE": "prod", "HMB_TOKEN_SECRET": "a-deployed-secret-of-at-least-32-bytes",
           "HMB_STAFF_TOKEN_SECRET": "another-deployed-secret-of-32-bytes"}
    out = subprocess.run([sys.executable, "-c", "import json; from app import app; print(json.dumps(list(app.routes)))"],
                         env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    routes = json.loads(out.stdout.strip().splitlines()[-1])
    assert "/v1/me" in routes
    assert not [path for path in routes if path.startswith("/sandbox")]


def test_the_sandbox_guard_refuses_even_if_a_route_were_registered(monkeypatch):
    from chalicelib.api.auth import resolve
    from chalicelib.config import reset_settings
    from chalicelib.domain.errors import NotFound

    monkeypatch.setenv("HMB_STAGE", "prod")
    monkeypatch.setenv("HMB_TOKEN_SECRET", "a-deployed-secret-of-at-least-32-bytes")
    monkeypatch.setenv("HMB_STAFF_TOKEN_SECRET", "another-deployed-secret-of-32-bytes")
    monkeypatch.setenv("HMB_ID_HASH_KEY", "11" * 32)
    monkeypatch.setenv("HMB_ID_DATA_KEY", "22" * 32)
    reset_settings()
    try:
        with pytest.raises(NotFound):
            resolve(None, "sandbox")
    finally:
        monkeypatch.undo()
        reset_settings()
