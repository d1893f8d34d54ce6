"""Account security over HTTP on `make run` (issue #10 "Must show")."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id

pytestmark = pytest.mark.e2e

WRONG_NAMES = ["李一", "李二", "李三", "李四", "李五", "李六", "李七", "李八", "李九", "李十", "李甲", "李乙"]


# The limits count in fixed windows aligned to the hour and the day at the sandbox clock. On the real clock a test
# that crosses an hour boundary half-way (300 sends take tens of seconds on a loaded CI machine) starts a fresh
# window and never reaches the ceiling it asserts, so the module pins the clock and gives it back afterwards.
PINNED_NOW = "2026-11-20T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _fresh_counters(api):
    """This module drives the limits to their ceilings: pin the clock, forget the counters before and after."""
    assert api.put("/sandbox/clock", {"now": PINNED_NOW}).status == 200
    assert api.post("/sandbox/limits/reset").status == 200
    yield
    assert api.post("/sandbox/limits/reset").status == 200
    assert api.put("/sandbox/clock", {"now": None}).status == 200


def login_by_sms(api, phone: str) -> None:
    assert api.post("/v1/auth/sms", {"phone": phone}).status == 202
    code = api.get(f"/sandbox/sms/{phone}").body["code"]
    verified = api.post("/v1/auth/sms/verify", {"phone": phone, "code": code})
    assert verified.status == 200, verified.body
    api.token = verified.body["token"]


def register(api, name: str, id_number: str, phone: str | None = None) -> None:
    body = {"name": name, "id_number": id_number, "city": "331100", "basic_type": "resident", "status": "active"}
    if phone:
        body["phone"] = phone
    assert api.post("/sandbox/people", body).status == 201


def test_guessing_names_for_one_id_is_throttled_from_one_account_and_over_many(api, base_url):
    from tests.e2e.conftest import Api

    victim = make_test_id("331102", date(1970, 3, 3), 301)
    register(api, "张三", victim, phone="13800138000")
    login_by_sms(api, "13810000001")
    mine = [api.put("/v1/me/identity", {"name": n, "id_number": victim}) for n in WRONG_NAMES]
    others = []
    for i, name in enumerate(WRONG_NAMES):
        stranger = Api(base_url)
        login_by_sms(stranger, f"138100001{i:02d}")
        others.append(stranger.put("/v1/me/identity", {"name": name, "id_number": victim}))

    assert [r.status for r in mine] == [422] * 5 + [429] * 7
    assert {r.status for r in others[-3:]} == {429}
    throttled = others[-1]
    assert throttled.body["code"] == "RATE_LIMITED"
    assert int(throttled.headers["Retry-After"]) == throttled.body["details"]["retry_after"] > 0

    # The person themself gets through with the platform's proof, and takes the ID back if someone bound it
    owner = Api(base_url)
    login_by_sms(owner, "13800138000")
    assert owner.post("/v1/me/identity/proof", {"id_number": victim}).body == {"sent_to": "138****8000"}
    code = owner.get(f"/sandbox/people/{victim}/proof").body["code"]
    bound = owner.put("/v1/me/identity", {"name": "张三", "id_number": victim, "proof_code": code})
    assert bound.status == 200, bound.body


def test_a_few_hundred_sms_sends_from_one_client_meet_a_challenge_then_a_limit(api):
    statuses = [api.post("/v1/auth/sms", {"phone": f"1391{i:07d}"}).status for i in range(300)]

    assert statuses[0] == 202
    assert 428 in statuses
    first_refused = statuses.index(428)
    assert set(statuses[first_refused:]) == {428}
    ticket = api.post("/sandbox/captcha").body["captcha_ticket"]
    assert api.post("/v1/auth/sms", {"phone": "13919999999", "captcha_ticket": ticket}).status == 202


def test_framework_answers_have_the_contracts_error_shape(api):
    unknown = api.get("/v1/no-such-route")
    wrong_method = api.call("DELETE", "/v1/plans")
    wrong_type = api.call("POST", "/v1/auth/sms", None, headers={"Content-Type": "text/plain"})

    for reply, status, code in ((unknown, 404, "ROUTE_NOT_FOUND"), (wrong_method, 405, "METHOD_NOT_ALLOWED"),
                                (wrong_type, 415, "UNSUPPORTED_MEDIA_TYPE")):
        assert reply.status == status
        assert set(reply.body) == {"code", "message", "details"}
        assert reply.body["code"] == code and reply.body["message"]


def test_answers_with_personal_data_are_not_cached(api):
    login_by_sms(api, "13810000500")
    me = api.get("/v1/me")
    assert me.status == 200
    assert me.headers["Cache-Control"] == "no-store"


def test_a_token_for_an_account_that_does_not_exist_gets_401(api):
    import time

    import jwt

    from chalicelib.api.auth import MEMBER_AUDIENCE
    from chalicelib.config import SETTINGS

    now = int(time.time())
    api.token = jwt.encode({"sub": "no-such-account", "aud": MEMBER_AUDIENCE, "iat": now, "exp": now + 600},
                           SETTINGS["HMB_TOKEN_SECRET"].local, algorithm="HS256")  # the published local key
    for path in ("/v1/orders", "/v1/me", "/v1/policies"):
        reply = api.get(path)
        assert (reply.status, reply.body["code"]) == (401, "TOKEN_INVALID"), path


def test_the_preflight_allows_the_idempotency_key(api):
    import urllib.request

    request = urllib.request.Request(api.base_url + "/v1/orders", method="OPTIONS", headers={
        "Origin": "https://h5.example.cn", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    with urllib.request.urlopen(request, timeout=10) as response:
        allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        methods = response.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in methods


def test_a_compatibility_ideograph_binds_as_the_unified_character(api):
    person = make_test_id("331102", date(1982, 8, 8), 303)
    register(api, "豈三", person)
    login_by_sms(api, "13810000700")

    bound = api.put("/v1/me/identity", {"name": "\uf900三", "id_number": person})

    assert bound.status == 200, bound.body
    assert bound.body["name"] == "豈三"


def test_the_spouse_may_not_cancel_the_payers_policy_and_the_payer_may(api, another_api):
    """Cancelling is the policyholder's (投保人) right, Insurance Law art. 15: the insured spouse gets 403."""
    import uuid

    from tests.e2e.test_family_order import order, payer_with_family

    ids, refs = payer_with_family(api, "13810000801", 801)
    placed = order(api, [refs[1]])  # the spouse, paid from the payer's personal account
    assert placed.status == 201, placed.body
    policy_id = placed.body["policies"][0]["policy_id"]
    login_by_sms(another_api, "13810000802")
    assert another_api.put("/v1/me/identity", {"name": "李秀英", "id_number": ids["spouse"]}).status == 200

    spouse_cancel = another_api.post(f"/v1/policies/{policy_id}/cancel",
                                     headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (spouse_cancel.status, spouse_cancel.body["code"]) == (403, "NOT_POLICYHOLDER")
    seen = another_api.get(f"/v1/policies/{policy_id}")
    assert seen.status == 200 and seen.body["status"] == "active"

    payer_cancel = api.post(f"/v1/policies/{policy_id}/cancel", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert payer_cancel.status == 200, payer_cancel.body
    assert payer_cancel.body["refund"]["status"] == "refunded"
