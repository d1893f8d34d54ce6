"""Smoke: a fresh `make run` serves the plans, the OpenAPI document and the whole identity flow through the
sandbox, as a phone would drive it over HTTP."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id

pytestmark = pytest.mark.e2e

PLANS = {"dengfeng-2018", "dengfeng-2019", "lishui-2021", "lishui-2022"}


def login_by_sms(api, phone: str) -> None:
    """POST /v1/auth/sms → read the code from the sandbox → verify; the api then carries the token."""
    assert api.post("/v1/auth/sms", {"phone": phone}).status == 202
    sent = api.get(f"/sandbox/sms/{phone}")
    assert sent.status == 200, sent.body
    verified = api.post("/v1/auth/sms/verify", {"phone": phone, "code": sent.body["code"]})
    assert verified.status == 200, verified.body
    api.token = verified.body["token"]


def test_the_four_plans_are_listed(api):
    response = api.get("/v1/plans")

    assert response.status == 200
    assert {plan["plan_id"] for plan in response.body} == PLANS


def test_the_openapi_document_describes_the_api_and_its_sandbox(api):
    response = api.get("/v1/openapi.json")

    assert response.status == 200
    assert response.body["openapi"].startswith("3.")
    assert {"/v1/plans", "/v1/me/identity", "/sandbox/people"} <= set(response.body["paths"])


def test_a_member_logs_in_by_sms_and_binds_the_identity_the_platform_knows(api):
    id_number = make_test_id("331102", date(1980, 5, 1), 101)
    registered = api.post("/sandbox/people", {
        "name": "王小明", "id_number": id_number, "city": "331100", "basic_type": "employee", "status": "active",
        "basic_start": "2005-03-01", "account_current_fen": 30_000, "account_prior_years_fen": 80_000})
    assert registered.status == 201, registered.body

    login_by_sms(api, "13800138101")
    bound = api.put("/v1/me/identity", {"name": "王小明", "id_number": id_number})

    assert bound.status == 200, bound.body
    assert bound.body["id_number_masked"] == id_number[:6] + "********" + id_number[-4:]
    assert (bound.body["birth_date"], bound.body["sex"]) == ("1980-05-01", "male")
    assert bound.body["basic_insurance"] == {"type": "employee", "city": "331100", "status": "active"}
    me = api.get("/v1/me")
    assert me.status == 200, me.body
    assert me.body["identity"]["id_number_masked"] == bound.body["id_number_masked"]
    assert me.body["phone"] == "13800138101"


def test_a_second_account_cannot_bind_an_identity_already_bound(api, another_api):
    id_number = make_test_id("331102", date(1985, 9, 9), 202, female=True)
    api.post("/sandbox/people", {"name": "赵丽", "id_number": id_number, "city": "331100",
                                 "basic_type": "resident", "status": "active"})
    login_by_sms(api, "13800138202")
    assert api.put("/v1/me/identity", {"name": "赵丽", "id_number": id_number}).status == 200

    login_by_sms(another_api, "13800138203")
    refused = another_api.put("/v1/me/identity", {"name": "赵丽", "id_number": id_number})

    assert refused.status == 409
    assert refused.body["code"] == "IDENTITY_ALREADY_BOUND"


def test_binding_a_person_the_platform_does_not_know_is_refused(api):
    login_by_sms(api, "13800138303")
    unknown = make_test_id("331102", date(1970, 1, 1), 303)
    refused = api.put("/v1/me/identity", {"name": "钱多多", "id_number": unknown})

    assert refused.status in (404, 422)
    assert refused.body["code"] == "PERSON_NOT_FOUND_IN_PLATFORM"


def test_the_platform_contract_is_served_for_the_http_adapter(api, base_url):
    """The deployed adapter, pointed at the running sandbox, finds the person registered through it."""
    from chalicelib.adapters.medical_platform_http import HttpPlatform

    id_number = make_test_id("331102", date(1990, 2, 2), 404)
    api.post("/sandbox/people", {"name": "孙一", "id_number": id_number, "city": "331100",
                                           "basic_type": "employee", "status": "active",
                                           "account_current_fen": 5_000})
    platform = HttpPlatform(base_url + "/sandbox/platform")

    assert platform.find_person(id_number).name == "孙一"
    deduction = platform.deduct(id_number, "current", 1_200, "e2e-smoke-0001", "E2E")
    assert platform.find_deduction("e2e-smoke-0001") == deduction
    statement = api.get(f"/sandbox/people/{id_number}")
    assert statement.body["account_current_fen"] == 3_800
