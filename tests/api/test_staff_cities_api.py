"""Staff tokens name the staff member and their cities (issue #10 item 11): another city's claim → 403."""
from __future__ import annotations

import json

from chalicelib.api.auth import _decode, issue_staff_token
from tests.api.test_admin_claims_api import new_claim
from tests.claim_helpers import call

JSON = {"Content-Type": "application/json"}
LISHUI, DENGFENG = "331100", "410185"


def staff_for(cities, role="claims_reviewer"):
    return {"Authorization": f"Bearer {issue_staff_token('s-1', role, cities=cities)}", **JSON}


def test_staff_of_another_city_cannot_read_or_decide_a_claim(client, insured):
    claim_id = new_claim(client, insured)  # 浙丽保 lishui-2021: city 331100
    elsewhere = staff_for([DENGFENG])

    status, body = call(client, "GET", f"/v1/admin/claims/{claim_id}", elsewhere)
    assert (status, body["code"]) == (403, "CITY_NOT_ASSIGNED")
    status, body = call(client, "POST", f"/v1/admin/claims/{claim_id}/review", elsewhere, {"decision": "approve"})
    assert (status, body["code"]) == (403, "CITY_NOT_ASSIGNED")
    status, body = call(client, "POST", f"/v1/admin/claims/{claim_id}/pay",
                        {**staff_for([DENGFENG], "insurer_admin"), "Idempotency-Key": "pay-key-0001"}, {})
    assert (status, body["code"]) == (403, "CITY_NOT_ASSIGNED")


def test_staff_of_the_plans_city_act_on_its_claims(client, insured):
    claim_id = new_claim(client, insured)
    assert call(client, "GET", f"/v1/admin/claims/{claim_id}", staff_for([LISHUI, DENGFENG]))[0] == 200


def test_a_staff_token_without_cities_is_not_a_staff_token(client):
    import time

    import jwt

    from chalicelib.api.auth import STAFF_AUDIENCE
    from chalicelib.config import get_settings

    s, now = get_settings(), int(time.time())
    token = jwt.encode({"sub": "s-1", "aud": STAFF_AUDIENCE, "iss": s.staff_token_issuer, "role": "bureau",
                        "iat": now, "exp": now + 60}, s.staff_token_secret, algorithm="HS256")
    resp = client.http.get("/v1/admin/claims", headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, json.loads(resp.body)["code"]) == (401, "TOKEN_INVALID")


def test_the_sandbox_issues_a_new_staff_member_per_call_unless_named(client):
    def issue(**body):
        return json.loads(client.http.post("/sandbox/staff-token", headers=JSON,
                                           body=json.dumps({"role": "claims_reviewer", **body})).body)

    first, second = issue(), issue()
    assert first["staff_id"] != second["staff_id"]
    assert issue(staff_id="wang-01")["staff_id"] == "wang-01"
    named = issue(cities=[LISHUI])
    assert named["cities"] == [LISHUI] and _decode(named["token"]).cities == (LISHUI,)
    assert first["cities"] == ["*"]
