"""Identity over HTTP: WeChat and SMS login, session tokens, binding a real person (实名), GET /v1/me."""
import json
import logging
from datetime import datetime, timedelta

import jwt
import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.repositories.grants import DynamoGrantRepository
from chalicelib.api.auth import MEMBER_AUDIENCE, issue_staff_token
from chalicelib.config import get_settings
from chalicelib.domain.grant import Grant
from tests.helpers import account_id_of, login, new_id, register_person

JSON = {"Content-Type": "application/json"}
NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)
PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _fixed_time(clock):
    clock.set(NOW)


def post(client, path, body, headers=None):
    return client.http.post(path, headers={**JSON, **(headers or {})},
                            body=body if isinstance(body, str) else json.dumps(body))


def put(client, path, body, headers):
    return client.http.put(path, headers=headers, body=body if isinstance(body, str) else json.dumps(body))


def body_of(resp):
    return json.loads(resp.body)


def error_of(resp):
    body = body_of(resp)
    assert set(body) == {"code", "message", "details"}
    return body


def last_code(phone=PHONE):
    return deps.sms().last(phone).code


def _bearer(token):
    return {"Authorization": f"Bearer {token}", **JSON}


# ---- WeChat login --------------------------------------------------------------------------------------------
def test_a_wechat_code_logs_in_and_the_token_opens_my_account(client):
    resp = post(client, "/v1/auth/wechat", {"code": "wx-member-1"})
    assert resp.status_code == 200
    session = body_of(resp)
    assert session["expires_in"] == get_settings().token_ttl_seconds
    me = client.http.get("/v1/me", headers=_bearer(session["token"]))
    assert me.status_code == 200
    assert body_of(me)["account_id"] == session["account_id"]
    assert body_of(me)["login_channel"] == "wechat" and body_of(me)["phone"] is None


def test_the_same_wechat_user_gets_the_same_account_and_another_user_a_new_one(client):
    first = body_of(post(client, "/v1/auth/wechat", {"code": "wx-member-1"}))["account_id"]
    again = body_of(post(client, "/v1/auth/wechat", {"code": "wx-member-1"}))["account_id"]
    other = body_of(post(client, "/v1/auth/wechat", {"code": "wx-member-2"}))["account_id"]
    assert first == again != other


def test_a_code_wechat_rejects_is_401(client):
    resp = post(client, "/v1/auth/wechat", {"code": "invalid-used-code"})
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "WECHAT_CODE_INVALID"


def test_wechat_being_down_is_503_not_500(client):
    from chalicelib.adapters.wechat_login import WeChatUnavailable

    class Down:
        def code_to_session(self, code):
            raise WeChatUnavailable("timeout")

    deps.override("wechat_login", Down())
    resp = post(client, "/v1/auth/wechat", {"code": "wx-member-1"})
    assert resp.status_code == 503
    assert error_of(resp)["code"] == "WECHAT_LOGIN_UNAVAILABLE"


@pytest.mark.parametrize("body, code, field", [
    ("{not json", "MALFORMED_JSON", "body"),
    ({"code": 123}, "VALIDATION_FAILED", "code"),
    ({"code": "abc", "extra": 1}, "UNKNOWN_FIELD", "extra"),
    ({}, "MISSING_FIELD", "code"),
    ("[]", "MALFORMED_JSON", "body"),
])
def test_bad_login_bodies_are_400_naming_the_field(client, body, code, field):
    resp = post(client, "/v1/auth/wechat", body)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == code
    assert error_of(resp)["details"]["field"] == field


def test_two_first_logins_racing_make_one_account(aws, clock):
    """The loser of the race saw no login marker, then lost the conditional transaction: it returns the winner's."""
    from chalicelib.services.identity import account_for_login

    table = deps.table()

    class StaleFirstRead:
        """The table as seen by the request that read before the winner wrote."""

        def __init__(self):
            self.reads = 0

        def get(self, key, consistent=True):
            self.reads += 1
            return None if self.reads == 1 else table.get(key, consistent)

        def __getattr__(self, name):
            return getattr(table, name)

    from chalicelib.adapters.repositories.accounts import AccountRepository

    winner = account_for_login(AccountRepository(table), "wechat", "o-racer", NOW)
    loser = account_for_login(AccountRepository(StaleFirstRead()), "wechat", "o-racer", NOW)
    assert loser == winner
    accounts = [i for i in _all_items() if i["SK"] == "ACCOUNT"]
    assert len(accounts) == 1


def _all_items():
    client = deps.table().client
    return [deps.table()._load(i) for i in client.scan(TableName=deps.table().name)["Items"]]


# ---- SMS login -----------------------------------------------------------------------------------------------
def test_an_sms_code_logs_in_once_and_is_then_used_up(client):
    sent = post(client, "/v1/auth/sms", {"phone": PHONE})
    assert sent.status_code == 202
    assert body_of(sent) == {"expires_in": 300, "resend_after": 60}
    code = last_code()
    resp = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": code})
    assert resp.status_code == 200
    token = body_of(resp)["token"]
    me = body_of(client.http.get("/v1/me", headers=_bearer(token)))
    assert (me["login_channel"], me["phone"]) == ("phone", PHONE)
    replay = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": code})
    assert replay.status_code == 401
    assert error_of(replay)["code"] == "SMS_CODE_EXPIRED"


def _sms_login(client, phone=PHONE):
    assert post(client, "/v1/auth/sms", {"phone": phone}).status_code == 202
    resp = post(client, "/v1/auth/sms/verify", {"phone": phone, "code": last_code(phone)})
    assert resp.status_code == 200
    return body_of(resp)["account_id"]


def test_the_same_phone_logs_in_to_the_same_account(client, clock):
    first = _sms_login(client)
    clock.set(NOW + timedelta(minutes=2))
    assert _sms_login(client) == first
    assert _sms_login(client, "13900139000") != first


def test_the_code_is_stored_only_as_a_keyed_hash(client):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    item = deps.table().get(keys.sms_code(PHONE))
    assert last_code() not in json.dumps(item)
    assert item["expires_at"] == int(NOW.timestamp()) + 300  # TTL removes it after its five minutes


def test_a_second_code_within_a_minute_is_429_with_retry_after(client, clock):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    clock.set(NOW + timedelta(seconds=45))
    resp = post(client, "/v1/auth/sms", {"phone": PHONE})
    assert resp.status_code == 429
    error = error_of(resp)
    assert error["code"] == "SMS_TOO_FREQUENT"
    assert error["details"]["retry_after"] == 15
    assert resp.headers["Retry-After"] == "15"
    assert "15 秒" in error["message"]


def test_a_code_may_be_requested_again_after_a_minute_and_replaces_the_old_one(client, clock):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    old = last_code()
    clock.set(NOW + timedelta(seconds=60))
    assert post(client, "/v1/auth/sms", {"phone": PHONE}).status_code == 202
    new = last_code()
    if old != new:  # one chance in a million they coincide
        assert post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": old}).status_code == 401
    assert post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": new}).status_code == 200


def test_the_limit_is_per_phone(client):
    assert post(client, "/v1/auth/sms", {"phone": PHONE}).status_code == 202
    assert post(client, "/v1/auth/sms", {"phone": "13900139000"}).status_code == 202


def _wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_codes_count_down_and_the_fifth_voids_the_code(client):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    code = last_code()
    for left in (4, 3, 2, 1):
        resp = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": _wrong(code)})
        assert resp.status_code == 401
        assert error_of(resp)["code"] == "SMS_CODE_WRONG"
        assert error_of(resp)["details"]["attempts_left"] == left
    fifth = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": _wrong(code)})
    assert fifth.status_code == 429
    assert error_of(fifth)["code"] == "SMS_CODE_LOCKED"
    right_but_too_late = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": code})
    assert right_but_too_late.status_code == 429
    assert error_of(right_but_too_late)["code"] == "SMS_CODE_LOCKED"


def test_after_a_voided_code_a_new_one_can_be_requested_after_the_minute(client, clock):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    for _ in range(5):
        post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": _wrong(last_code())})
    assert post(client, "/v1/auth/sms", {"phone": PHONE}).status_code == 429
    clock.set(NOW + timedelta(minutes=1))
    assert post(client, "/v1/auth/sms", {"phone": PHONE}).status_code == 202
    assert post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": last_code()}).status_code == 200


def test_a_code_expires_after_five_minutes(client, clock):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    clock.set(NOW + timedelta(minutes=5))
    resp = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": last_code()})
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "SMS_CODE_EXPIRED"


def test_verifying_without_any_code_sent_is_401(client):
    resp = post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": "123456"})
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "SMS_CODE_EXPIRED"


@pytest.mark.parametrize("path, body, code, field", [
    ("/v1/auth/sms", {"phone": "12345"}, "PHONE_INVALID", "phone"),
    ("/v1/auth/sms", {"phone": 13800138000}, "VALIDATION_FAILED", "phone"),
    ("/v1/auth/sms/verify", {"phone": PHONE, "code": "12ab56"}, "SMS_CODE_FORMAT", "code"),
    ("/v1/auth/sms/verify", {"phone": PHONE, "code": 123456}, "VALIDATION_FAILED", "code"),
    ("/v1/auth/sms/verify", {"phone": PHONE}, "MISSING_FIELD", "code"),
])
def test_bad_sms_input_is_400_naming_the_field(client, path, body, code, field):
    resp = post(client, path, body)
    assert resp.status_code == 400
    assert (error_of(resp)["code"], error_of(resp)["details"]["field"]) == (code, field)


def test_a_malformed_code_does_not_use_up_an_attempt(client):
    post(client, "/v1/auth/sms", {"phone": PHONE})
    post(client, "/v1/auth/sms/verify", {"phone": PHONE, "code": "abc"})
    assert deps.table().get(keys.sms_code(PHONE))["attempts"] == 0


def test_when_the_sms_provider_fails_the_member_can_retry_at_once(client):
    deps.sms().fail_next()
    resp = post(client, "/v1/auth/sms", {"phone": PHONE})
    assert resp.status_code == 503
    assert error_of(resp)["code"] == "SMS_UNAVAILABLE"
    assert post(client, "/v1/auth/sms", {"phone": PHONE}).status_code == 202


# ---- tokens --------------------------------------------------------------------------------------------------
def _member_token(secret, exp_delta, sub="someone"):
    now = int(datetime.now().timestamp())
    return jwt.encode({"sub": sub, "aud": MEMBER_AUDIENCE, "iat": now, "exp": now + exp_delta}, secret,
                      algorithm="HS256")


@pytest.mark.parametrize("headers, code", [
    ({}, "TOKEN_MISSING"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "TOKEN_INVALID"),
    ({"Authorization": "Bearer not-a-jwt"}, "TOKEN_INVALID"),
])
def test_no_or_garbled_token_is_401(client, headers, code):
    resp = client.http.get("/v1/me", headers=headers)
    assert resp.status_code == 401
    assert error_of(resp)["code"] == code


def test_a_token_signed_with_another_secret_is_401(client):
    headers = login(client, PHONE)
    forged = _member_token("another-secret-of-32-bytes-or-more!!", 3600, sub=account_id_of(headers))
    resp = client.http.get("/v1/me", headers=_bearer(forged))
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "TOKEN_INVALID"


def test_an_expired_token_is_401(client):
    headers = login(client, PHONE)
    expired = _member_token(get_settings().token_secret, -60, sub=account_id_of(headers))
    resp = client.http.get("/v1/me", headers=_bearer(expired))
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "TOKEN_EXPIRED"


def test_a_token_for_an_account_that_does_not_exist_is_401(client):
    token = _member_token(get_settings().token_secret, 3600, sub="no-such-account")
    resp = client.http.get("/v1/me", headers=_bearer(token))
    assert resp.status_code == 401


def test_a_staff_token_is_not_a_member(client):
    resp = client.http.get("/v1/me", headers=_bearer(issue_staff_token("s1", "claims_reviewer")))
    assert resp.status_code == 403


def test_identity_binding_needs_a_token(client):
    resp = put(client, "/v1/me/identity", {"name": "张三", "id_number": new_id()}, JSON)
    assert resp.status_code == 401


# ---- identity binding ----------------------------------------------------------------------------------------
def _bind(client, headers, name, id_number):
    return put(client, "/v1/me/identity", {"name": name, "id_number": id_number}, headers)


def test_binding_a_person_the_platform_knows_returns_them_masked(client):
    headers = login(client, PHONE)
    id_number = new_id("331102", datetime(1980, 3, 4).date(), 22, female=True)
    register_person("李四", id_number, city="331100", basic_type="resident")
    resp = _bind(client, headers, "李四", id_number)
    assert resp.status_code == 200
    body = body_of(resp)
    assert body["name"] == "李四"
    assert body["id_number_masked"] == id_number[:6] + "********" + id_number[-4:]
    assert (body["birth_date"], body["sex"]) == ("1980-03-04", "female")
    assert body["basic_insurance"] == {"type": "resident", "city": "331100", "status": "active"}
    assert body["person_id"].startswith("P") and id_number not in body["person_id"]


def test_the_id_is_stored_encrypted_and_found_by_its_keyed_hash(client):
    headers = login(client, PHONE)
    id_number = new_id()
    register_person("张三", id_number)
    _bind(client, headers, "张三", id_number)
    id_hash = deps.cipher().lookup_hash(id_number)
    account = deps.table().get(keys.account(account_id_of(headers)))
    assert account["person_hash"] == id_hash
    assert deps.cipher().decrypt(account["id_enc"], "id_number") == id_number
    assert deps.table().get(keys.identity_binding(id_hash))["account_id"] == account_id_of(headers)
    person = deps.table().get(keys.person(id_hash))
    assert (person["name"], person["birth_date"], person["sex"]) == ("张三", "1980-01-01", "male")
    assert all(id_number not in json.dumps(item, ensure_ascii=False) for item in _all_items())


def test_binding_the_same_person_again_is_idempotent(client):
    headers = login(client, PHONE)
    id_number = new_id()
    register_person("张三", id_number)
    first = _bind(client, headers, "张三", id_number)
    again = _bind(client, headers, "张三", id_number)
    assert again.status_code == 200
    assert body_of(again) == body_of(first)


def test_an_id_bound_to_another_account_is_409_and_nothing_changes(client, clock):
    owner, other = login(client, PHONE), login(client, "13900139000")
    id_number = new_id()
    register_person("张三", id_number)
    _bind(client, owner, "张三", id_number)
    resp = _bind(client, other, "张三", id_number)
    assert resp.status_code == 409
    assert error_of(resp)["code"] == "IDENTITY_ALREADY_BOUND"
    assert "person_hash" not in deps.table().get(keys.account(account_id_of(other)))
    assert body_of(client.http.get("/v1/me", headers=other))["identity"] is None


def test_an_account_already_bound_cannot_switch_to_someone_else(client):
    headers = login(client, PHONE)
    mine, someone_else = new_id(), new_id()
    register_person("张三", mine)
    register_person("王五", someone_else)
    _bind(client, headers, "张三", mine)
    resp = _bind(client, headers, "王五", someone_else)
    assert resp.status_code == 409
    assert error_of(resp)["code"] == "IDENTITY_ALREADY_SET"
    assert deps.table().get(keys.identity_binding(deps.cipher().lookup_hash(someone_else))) is None


def test_the_already_set_check_also_holds_inside_the_transaction(client):
    """Two different IDs bound concurrently by one account: the account's condition refuses the second."""
    from chalicelib.services.identity import bind_identity

    headers = login(client, PHONE)
    mine, someone_else = new_id(), new_id()
    register_person("张三", mine)
    register_person("王五", someone_else)
    table = deps.table()
    account_key = keys.account(account_id_of(headers))
    unbound_account = table.get(account_key)
    _bind(client, headers, "张三", mine)

    class StaleAccountRead:
        def get(self, key, consistent=True):
            return unbound_account if key == account_key else table.get(key, consistent)

        def __getattr__(self, name):
            return getattr(table, name)

    from dataclasses import replace

    from chalicelib.adapters.repositories.accounts import AccountRepository
    from chalicelib.domain.errors import Conflict

    stale = replace(deps.identity_ports(), accounts=AccountRepository(StaleAccountRead()))
    with pytest.raises(Conflict) as caught:
        bind_identity(stale, deps.platform(), deps.rate_limiter(), account_id_of(headers), "王五", someone_else, NOW)
    assert caught.value.code == "IDENTITY_ALREADY_SET"
    assert table.get(keys.identity_binding(deps.cipher().lookup_hash(someone_else))) is None


def _id_with(first17):
    from chalicelib.domain.resident_id import check_digit

    return first17 + check_digit(first17)


@pytest.mark.parametrize("id_number, reason", [
    (new_id()[:17] + ("0" if new_id()[17] != "0" else "1"), "校验位"),
    (_id_with("33110219990229001"), "出生日期不存在"),
    (_id_with("33110220210416001"), "晚于今天"),
    (_id_with("99999919800101001"), "地区代码"),
    ("33110219800101", "18 位"),
])
def test_a_bad_id_number_is_400_and_the_platform_is_not_asked(client, id_number, reason):
    headers = login(client, PHONE)
    calls_before = list(deps.platform().calls)
    resp = _bind(client, headers, "张三", id_number)
    assert resp.status_code == 400
    error = error_of(resp)
    assert (error["code"], error["details"]["field"]) == ("ID_NUMBER_INVALID", "id_number")
    assert reason in error["message"]
    assert deps.platform().calls == calls_before
    assert "person_hash" not in deps.table().get(keys.account(account_id_of(headers)))


def test_a_wrong_check_digit_is_refused_even_when_the_rest_is_a_real_person(client):
    headers = login(client, PHONE)
    id_number = new_id()
    register_person("张三", id_number)
    typo = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    assert _bind(client, headers, "张三", typo).status_code == 400


def test_a_region_that_did_not_exist_at_birth_is_accepted(client):
    headers = login(client, PHONE)
    id_number = _id_with("33110219800101001")  # 莲都区 exists since 2000
    register_person("张三", id_number)
    assert _bind(client, headers, "张三", id_number).status_code == 200


@pytest.mark.parametrize("registered_name, given_name", [("张三", "张四"), (None, "张三")],
                         ids=["wrong-name", "unknown-person"])
def test_a_person_the_platform_does_not_know_under_that_name_is_422_with_one_answer_for_both(
        client, registered_name, given_name):
    headers = login(client, PHONE)
    id_number = new_id()
    if registered_name:
        register_person(registered_name, id_number)
    resp = _bind(client, headers, given_name, id_number)
    assert resp.status_code == 422
    error = error_of(resp)
    assert error["code"] == "PERSON_NOT_FOUND_IN_PLATFORM"
    assert error["details"] == {}
    assert "person_hash" not in deps.table().get(keys.account(account_id_of(headers)))


def test_a_name_written_with_another_dot_is_the_same_name_and_the_platforms_spelling_is_kept(client):
    headers = login(client, PHONE)
    id_number = new_id("650102")
    register_person("买买提·艾力", id_number, city="650100")
    resp = _bind(client, headers, "买买提•艾力", id_number)
    assert resp.status_code == 200
    assert body_of(resp)["name"] == "买买提·艾力"


def test_the_platform_being_down_is_503_and_nothing_is_written(client):
    headers = login(client, PHONE)
    id_number = new_id()
    register_person("张三", id_number)
    deps.platform().fail_next("find_person", "before")
    resp = _bind(client, headers, "张三", id_number)
    assert resp.status_code == 503
    assert error_of(resp)["code"] == "IDENTITY_CHECK_UNAVAILABLE"
    assert deps.table().get(keys.identity_binding(deps.cipher().lookup_hash(id_number))) is None


@pytest.mark.parametrize("body, code, field", [
    ('{"name": "张三", "id_number": ', "MALFORMED_JSON", "body"),
    ({"name": "张三", "id_number": 331102198001010011}, "VALIDATION_FAILED", "id_number"),
    ({"name": ["张三"], "id_number": "x"}, "VALIDATION_FAILED", "name"),
    ({"name": "张三", "id_number": "x", "sex": "male"}, "UNKNOWN_FIELD", "sex"),
    ({"name": "张三"}, "MISSING_FIELD", "id_number"),
    ({"name": "张3", "id_number": "x"}, "NAME_INVALID", "name"),
])
def test_bad_identity_bodies_are_400_naming_the_field(client, body, code, field):
    headers = login(client, PHONE)
    resp = put(client, "/v1/me/identity", body, headers)
    assert resp.status_code == 400
    assert (error_of(resp)["code"], error_of(resp)["details"]["field"]) == (code, field)


def test_no_id_number_appears_in_any_response_or_log_line(client, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    owner, other = login(client, PHONE), login(client, "13900139000")
    id_number = new_id()
    register_person("张三", id_number)
    bodies = [
        _bind(client, owner, "张三", id_number).body,
        _bind(client, owner, "张三", id_number).body,
        _bind(client, other, "张三", id_number).body,  # 409
        _bind(client, other, "张四", id_number).body,  # 422 (bound check comes later)
        _bind(client, other, "张三", id_number[:17] + ("0" if id_number[17] != "0" else "1")).body,  # 400
        client.http.get("/v1/me", headers=owner).body,
    ]
    captured = capsys.readouterr()
    seen = "\n".join([b.decode() for b in bodies] + [captured.out, captured.err, caplog.text])
    assert id_number not in seen
    assert id_number[:17] not in seen


# ---- GET /v1/me ----------------------------------------------------------------------------------------------
def _add_family_member(account_id, name, id_number, relationship):
    cipher = deps.cipher()
    id_hash = cipher.lookup_hash(id_number)
    deps.table().put({**keys.family_member(account_id, "M1"), **keys.gsi_person(id_hash, f"MEMBER#{account_id}"),
                      "member_id": "M1", "account_id": account_id, "id_hash": id_hash,
                      "id_enc": cipher.encrypt(id_number, "id_number"), "name": name, "relationship": relationship,
                      "birth_date": "2010-05-06", "sex": "female", "created_at": "2021-04-15T10:00:00+08:00"})


def _add_authorization(authorization_id, grantor_hash, grantor_account_id, grantee_phone, status="active"):
    DynamoGrantRepository(deps.table()).add(Grant(
        authorization_id=authorization_id, grantor_hash=grantor_hash, grantor_account_id=grantor_account_id,
        grantee_phone=grantee_phone, scopes=["view", "claims"], status=status,
        created_at="2021-04-15T10:00:00+08:00"))


def test_me_shows_my_person_family_and_authorisations_with_masked_ids_only(client):
    grandma_phone = "13900139000"
    me_headers, grandma = login(client, PHONE), login(client, grandma_phone)
    my_id, child_id, grandma_id = new_id(), new_id(born=datetime(2010, 5, 6).date(), female=True), new_id()
    register_person("张三", my_id)
    register_person("赵六", grandma_id)
    _bind(client, me_headers, "张三", my_id)
    _bind(client, grandma, "赵六", grandma_id)
    me_account = account_id_of(me_headers)
    _add_family_member(me_account, "张小花", child_id, "child")
    my_hash, grandma_hash = deps.cipher().lookup_hash(my_id), deps.cipher().lookup_hash(grandma_id)
    _add_authorization("AZ1", my_hash, me_account, grandma_phone)
    _add_authorization("AZ2", my_hash, me_account, "13700137000", status="revoked")
    _add_authorization("AZ3", grandma_hash, account_id_of(grandma), PHONE)
    _add_authorization("AZ4", grandma_hash, account_id_of(grandma), PHONE, status="revoked")

    resp = client.http.get("/v1/me", headers=me_headers)
    assert resp.status_code == 200
    me = body_of(resp)
    assert me["identity"]["name"] == "张三"
    assert me["identity"]["id_number_masked"] == my_id[:6] + "********" + my_id[-4:]
    [child] = me["family_members"]
    assert (child["name"], child["relationship"]) == ("张小花", "child")
    assert child["id_number_masked"] == child_id[:6] + "********" + child_id[-4:]
    assert {(a["authorization_id"], a["status"]) for a in me["authorizations_granted"]} == {
        ("AZ1", "active"), ("AZ2", "revoked")}
    [held] = me["authorizations_held"]
    assert (held["authorization_id"], held["grantor_name"]) == ("AZ3", "赵*")  # someone else's name is masked
    text = resp.body.decode()
    assert my_id not in text and child_id not in text and grandma_id not in text


def test_a_second_user_sees_only_their_own_account(client):
    first, second = login(client, PHONE), login(client, "13900139000")
    id_number = new_id()
    register_person("张三", id_number)
    _bind(client, first, "张三", id_number)
    _add_family_member(account_id_of(first), "张小花", new_id(), "child")
    theirs = body_of(client.http.get("/v1/me", headers=second))
    assert theirs["account_id"] == account_id_of(second)
    assert theirs["identity"] is None
    assert theirs["family_members"] == [] and theirs["authorizations_granted"] == []
    assert "张三" not in json.dumps(theirs, ensure_ascii=False)


def test_an_unbound_account_has_no_identity_yet(client):
    me = body_of(client.http.get("/v1/me", headers=login(client, PHONE)))
    assert me["identity"] is None
    assert me["phone"] == PHONE
