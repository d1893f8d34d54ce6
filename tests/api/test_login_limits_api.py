"""Login abuse (issue #10 item 2): SMS sends and verifies are limited per client address (challenge first, then
429), overall, and per phone per day; the sandbox forgets the counters on request."""
import json
from datetime import datetime

import pytest

from chalicelib import deps
from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.config import reset_settings
from chalicelib.domain import limits

JSON = {"Content-Type": "application/json"}
NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture(autouse=True)
def _fixed_time(clock):
    clock.set(NOW)


@pytest.fixture()
def low_ceilings(monkeypatch):
    monkeypatch.setenv("HMB_SMS_ADDRESS_CHALLENGE_PER_HOUR", "3")
    monkeypatch.setenv("HMB_SMS_ADDRESS_LIMIT_PER_HOUR", "6")
    monkeypatch.setenv("HMB_SMS_VERIFY_ADDRESS_LIMIT_PER_HOUR", "4")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def send(client, phone, **extra):
    return client.http.post("/v1/auth/sms", headers=JSON, body=json.dumps({"phone": phone, **extra}))


def verify(client, phone, code):
    return client.http.post("/v1/auth/sms/verify", headers=JSON, body=json.dumps({"phone": phone, "code": code}))


def code_of(resp):
    return json.loads(resp.body)["code"]


def ticket(client):
    return json.loads(client.http.post("/sandbox/captcha", headers=JSON, body="{}").body)["captcha_ticket"]


def test_the_local_default_lets_a_test_run_log_in_a_few_dozen_accounts(client):
    statuses = {send(client, f"1390000{i:04d}").status_code for i in range(40)}
    assert statuses == {202}


def test_past_the_challenge_threshold_one_address_must_solve_a_captcha(client, low_ceilings):
    answers = [send(client, f"1390000{i:04d}") for i in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 428, 428]
    assert code_of(answers[-1]) == "CHALLENGE_REQUIRED"

    assert send(client, "13900009999", captcha_ticket=ticket(client)).status_code == 202


def test_a_ticket_is_good_once_and_a_made_up_one_never(client, low_ceilings):
    for i in range(3):
        send(client, f"1390000{i:04d}")
    used = ticket(client)
    assert send(client, "13900000010", captcha_ticket=used).status_code == 202
    assert send(client, "13900000011", captcha_ticket=used).status_code == 428
    assert send(client, "13900000012", captcha_ticket="cap_made_up").status_code == 428


def test_past_the_address_limit_even_a_solved_captcha_waits(client, low_ceilings):
    statuses = [send(client, f"1390000{i:04d}", captcha_ticket=ticket(client)).status_code for i in range(8)]
    assert statuses == [202] * 6 + [429] * 2
    last = send(client, "13900000100", captcha_ticket=ticket(client))
    assert code_of(last) == "RATE_LIMITED" and int(last.headers["Retry-After"]) > 0


def test_one_phone_gets_at_most_its_daily_codes(client, clock):
    statuses = []
    for minute in range(limits.SMS_SENDS_PER_PHONE_PER_DAY.limit + 1):
        clock.set(NOW.replace(minute=minute))
        statuses.append(send(client, "13800138000").status_code)
    assert statuses == [202] * limits.SMS_SENDS_PER_PHONE_PER_DAY.limit + [429]


def test_code_guesses_from_one_address_are_limited_across_phones(client, low_ceilings):
    for i in range(3):
        send(client, f"1390000{i:04d}")
    statuses = [verify(client, f"1390000{i % 3:04d}", "000000").status_code for i in range(6)]
    assert statuses == [401] * 4 + [429] * 2


def test_the_sandbox_forgets_the_counters(client, low_ceilings):
    for i in range(4):
        send(client, f"1390000{i:04d}")
    assert send(client, "13900000050").status_code == 428

    assert client.http.post("/sandbox/limits/reset", headers=JSON, body="{}").status_code == 200

    assert send(client, "13900000051").status_code == 202


def test_the_real_code_still_logs_in(client):
    assert send(client, "13800138000").status_code == 202
    resp = verify(client, "13800138000", deps.sms().last("13800138000").code)
    assert resp.status_code == 200


@pytest.fixture()
def low_overall_ceiling(monkeypatch):
    # 8 a minute over 8 shards: each shard takes one send (and verifying, four times the sends, one per shard at 2).
    def ceiling(per_minute):
        monkeypatch.setenv("HMB_SMS_GLOBAL_PER_MINUTE", str(per_minute))
        reset_settings()
    yield ceiling
    monkeypatch.undo()
    reset_settings()


def test_sends_over_the_whole_service_are_limited_per_minute(client, clock, low_overall_ceiling):
    low_overall_ceiling(limits.GLOBAL_SHARDS)
    answers = [send(client, f"1370000{i:04d}") for i in range(limits.GLOBAL_SHARDS + 1)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(202) <= limits.GLOBAL_SHARDS and 429 in statuses  # 9 sends cannot fit 8 one-send shards
    assert {code_of(a) for a in answers if a.status_code == 429} == {"RATE_LIMITED"}

    clock.set(NOW.replace(minute=1))
    assert send(client, "13700009999").status_code == 202  # the next minute has room again


def test_code_checks_over_the_whole_service_are_limited_per_minute(client, low_overall_ceiling):
    low_overall_ceiling(limits.GLOBAL_SHARDS // 4)
    statuses = [verify(client, f"1370000{i:04d}", "000000").status_code for i in range(limits.GLOBAL_SHARDS + 1)]
    assert statuses.count(401) <= limits.GLOBAL_SHARDS and 429 in statuses
