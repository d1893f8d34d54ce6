"""POST/GET/DELETE /v1/authorizations (亲友代办): the insured lets the account logging in with a phone view their
policies and/or handle their claims; only the grantor can revoke, and revocation takes effect at once."""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import login, new_member

GRANDMA_PHONE, GRANDSON_PHONE, STRANGER_PHONE = "13900000001", "13900000002", "13900000003"
FULL_ID = re.compile(r"\d{17}[\dX]")


@pytest.fixture()
def grandma(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    return new_member(client, GRANDMA_PHONE, "王秀英")


def body(resp):
    text = resp.body.decode()
    assert not FULL_ID.search(text) and GRANDSON_PHONE not in text, "personal data leaked into a response"
    return json.loads(text)


def grant(client, headers, phone=GRANDSON_PHONE, scopes=("view", "claims")):
    return client.http.post("/v1/authorizations", headers=headers,
                            body=json.dumps({"grantee_phone": phone, "scopes": list(scopes)}))


def test_the_insured_grants_a_relative_view_and_claims(client, grandma):
    resp = grant(client, grandma.headers)

    assert resp.status_code == 201
    out = body(resp)
    assert out["authorization_id"]
    assert out["direction"] == "granted" and out["status"] == "active"
    assert out["scopes"] == ["view", "claims"]
    assert out["grantee_phone_masked"] == "139****0002"
    assert out["created_at"] == "2021-04-15T10:00:00+08:00"


def test_the_grantee_sees_the_grant_as_received_with_the_grantors_name_masked(client, grandma):
    authorization_id = body(grant(client, grandma.headers, scopes=["view"]))["authorization_id"]
    grandson = login(client, GRANDSON_PHONE)

    held = body(client.http.get("/v1/authorizations", headers=grandson))

    assert held == [{"authorization_id": authorization_id, "direction": "received", "scopes": ["view"],
                     "status": "active", "created_at": "2021-04-15T10:00:00+08:00", "revoked_at": None,
                     "grantee_phone_masked": None, "grantor_name_masked": "王*英"}]


def test_the_grantor_lists_the_grants_they_gave(client, grandma):
    grant(client, grandma.headers)

    given = body(client.http.get("/v1/authorizations", headers=grandma.headers))

    assert [(a["direction"], a["grantee_phone_masked"]) for a in given] == [("granted", "139****0002")]


def test_a_stranger_sees_no_grants(client, grandma):
    grant(client, grandma.headers)
    stranger = login(client, STRANGER_PHONE)

    assert body(client.http.get("/v1/authorizations", headers=stranger)) == []


def test_granting_needs_a_bound_identity(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    headers = login(client, GRANDMA_PHONE)

    resp = grant(client, headers)

    assert resp.status_code == 422 and body(resp)["code"] == "IDENTITY_REQUIRED"


def test_one_cannot_authorise_ones_own_phone(client, grandma):
    resp = grant(client, grandma.headers, phone=GRANDMA_PHONE)

    assert resp.status_code == 422 and body(resp)["code"] == "AUTHORIZATION_SELF"


@pytest.mark.parametrize("payload, code", [
    ({"grantee_phone": "1390000000", "scopes": ["view"]}, "PHONE_INVALID"),
    ({"grantee_phone": "23900000002", "scopes": ["view"]}, "PHONE_INVALID"),
    ({"grantee_phone": GRANDSON_PHONE, "scopes": []}, "VALIDATION_FAILED"),
    ({"grantee_phone": GRANDSON_PHONE, "scopes": ["view", "view"]}, "VALIDATION_FAILED"),
    ({"grantee_phone": GRANDSON_PHONE, "scopes": ["pay"]}, "VALIDATION_FAILED"),
    ({"grantee_phone": GRANDSON_PHONE}, "MISSING_FIELD"),
    ({"grantee_phone": 13900000002, "scopes": ["view"]}, "VALIDATION_FAILED"),
])
def test_bad_grants_are_400_naming_the_field(client, grandma, payload, code):
    resp = client.http.post("/v1/authorizations", headers=grandma.headers, body=json.dumps(payload))

    assert resp.status_code == 400
    out = body(resp)
    assert out["code"] == code
    assert out["details"]["field"] in ("grantee_phone", "scopes") or out["details"]["field"].startswith("scopes.")


def test_duplicated_scopes_are_explained_in_chinese(client, grandma):
    resp = grant(client, grandma.headers, scopes=["claims", "claims"])

    assert "授权范围不能重复" in body(resp)["message"]


def test_a_second_live_grant_to_the_same_phone_is_409(client, grandma):
    grant(client, grandma.headers, scopes=["view"])

    again = grant(client, grandma.headers, scopes=["claims"])

    assert again.status_code == 409 and body(again)["code"] == "AUTHORIZATION_EXISTS"


def test_the_grantor_revokes_and_the_grantee_no_longer_holds_it(client, grandma):
    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    grandson = login(client, GRANDSON_PHONE)

    resp = client.http.delete(f"/v1/authorizations/{authorization_id}", headers=grandma.headers)

    assert resp.status_code == 200
    assert body(resp)["status"] == "revoked" and body(resp)["revoked_at"] == "2021-04-15T10:00:00+08:00"
    assert body(client.http.get("/v1/authorizations", headers=grandson)) == []
    assert [a["status"] for a in body(client.http.get("/v1/authorizations", headers=grandma.headers))] == ["revoked"]


def test_a_revoked_grant_leaves_the_grantee_index(client, grandma):
    from chalicelib import deps
    from chalicelib.adapters import keys

    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    client.http.delete(f"/v1/authorizations/{authorization_id}", headers=grandma.headers)

    item = deps.table().get(keys.authorization(authorization_id))
    assert "GSI4PK" not in item and "GSI4SK" not in item
    assert item["status"] == "revoked"


def test_revoking_twice_answers_the_revoked_grant_again(client, grandma):
    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    client.http.delete(f"/v1/authorizations/{authorization_id}", headers=grandma.headers)

    again = client.http.delete(f"/v1/authorizations/{authorization_id}", headers=grandma.headers)

    assert again.status_code == 200 and body(again)["status"] == "revoked"


def test_after_revoking_the_same_phone_can_be_authorised_again(client, grandma):
    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    client.http.delete(f"/v1/authorizations/{authorization_id}", headers=grandma.headers)

    assert grant(client, grandma.headers, scopes=["view"]).status_code == 201


@pytest.mark.parametrize("who", ["grantee", "stranger"])
def test_only_the_grantor_can_revoke(client, grandma, who):
    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    headers = login(client, GRANDSON_PHONE if who == "grantee" else STRANGER_PHONE)

    resp = client.http.delete(f"/v1/authorizations/{authorization_id}", headers=headers)

    assert resp.status_code == 404 and body(resp)["code"] == "AUTHORIZATION_NOT_FOUND"
    assert [a["status"] for a in body(client.http.get("/v1/authorizations", headers=grandma.headers))] == ["active"]


def test_another_insured_person_cannot_revoke_my_grant(client, grandma):
    authorization_id = body(grant(client, grandma.headers))["authorization_id"]
    other = new_member(client, STRANGER_PHONE, "钱七")

    resp = client.http.delete(f"/v1/authorizations/{authorization_id}", headers=other.headers)

    assert resp.status_code == 404


def test_revoking_an_unknown_grant_is_404(client, grandma):
    resp = client.http.delete("/v1/authorizations/A00000000000000000000", headers=grandma.headers)

    assert resp.status_code == 404


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/authorizations"), ("POST", "/v1/authorizations"), ("DELETE", "/v1/authorizations/A1"),
])
def test_every_route_needs_a_login(client, method, path):
    resp = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")

    assert resp.status_code == 401
