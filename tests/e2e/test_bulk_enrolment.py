"""Bulk enrolment over HTTP on `make run` (DOMAIN §10): a bureau's list with every kind of row, the same list again,
the roles and cities refused, a collective list confirmed by a second staff member, disclosure by channel."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

URL = "/v1/admin/bulk-enrolments"
IN_WINDOW = "2021-11-20T10:00:00+08:00"
CREDIT_CODE = "91330000MA27U0AB1X"  # hypothetical, with a valid GB 32100 check character


def staff(api, role: str, staff_id: str, cities: list[str]) -> dict[str, str]:
    issued = api.post("/sandbox/staff-token", {"role": role, "staff_id": staff_id, "cities": cities})
    assert issued.status == 200, issued.body
    return {"Authorization": f"Bearer {issued.body['token']}"}


def person(api, name: str, id_number: str, city: str = "331100") -> None:
    created = api.post("/sandbox/people", {"name": name, "id_number": id_number, "city": city, "county": "331102",
                                           "basic_type": "resident", "status": "active", "basic_start": "2010-01-01",
                                           "special_groups": ["低保"]})
    assert created.status == 201, created.body


def submit(api, headers, body, key=None):
    return api.post(URL, body, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex})


def test_a_bureau_list_and_a_collective_list_over_http(api, another_api):
    assert api.put("/sandbox/clock", {"now": IN_WINDOW}).status == 200
    ids = [make_test_id("331102", date(1966, 6, 6), 700 + 2 * n) for n in range(4)]
    names = ["赵丽华", "钱国强", "孙美玲", "周建军"]
    for name, number in zip(names[:3], ids[:3], strict=True):
        person(api, name, number)
    elsewhere = make_test_id("330102", date(1966, 6, 6), 720)
    person(api, "吴晓东", elsewhere, city="330100")
    bureau = staff(api, "bureau", "e2e-bureau-lishui", ["331100"])
    body = {"plan_id": "lishui-2022", "funding": "subsidy", "payer": {"name": "丽水市莲都区人民政府", "county": "331102"}}

    earlier = submit(api, bureau, {**body, "rows": [{"name": names[2], "id_number": ids[2]}]})
    assert earlier.status == 202, earlier.body
    rows = [{"name": names[0], "id_number": ids[0], "group": "低保"},
            {"name": "某某", "id_number": ids[1][:-1] + ("1" if ids[1][-1] == "0" else "0")},
            {"name": names[1], "id_number": ids[1], "group": "特困"},
            {"name": names[0], "id_number": ids[0]},
            {"name": "吴晓东", "id_number": elsewhere},
            {"name": names[2], "id_number": ids[2]}]
    key = uuid.uuid4().hex
    accepted = submit(api, bureau, {**body, "rows": rows}, key=key)
    assert accepted.status == 202 and accepted.body["row_count"] == 6, accepted.body
    view = api.get(f"{URL}/{accepted.body['batch_id']}", headers=bureau)
    assert view.status == 200 and view.body["status"] == "done", view.body
    assert view.body["counts"] == {"rows": 6, "issued": 2, "taken_over": 0, "already_covered": 1, "refused": 3,
                                   "awaiting_payment": 0}
    assert {r["row"]: r["code"] for r in view.body["refused"]} == {
        2: "ID_NUMBER_INVALID", 4: "DUPLICATE_ROW", 5: "NOT_IN_PLAN_CITY", 6: "ALREADY_COVERED"}
    again = submit(api, bureau, {**body, "rows": rows}, key=key)
    assert (again.status, again.body) == (202, accepted.body)
    assert api.get(f"{URL}/{accepted.body['batch_id']}", headers=bureau).body["counts"] == view.body["counts"]
    for number in ids[:3]:  # no deduction anywhere
        assert api.get(f"/sandbox/people/{number}").body["deductions"] == []

    # a listed person binds and sees the policy
    login_by_sms(another_api, "13800138701")
    assert another_api.put("/v1/me/identity", {"name": names[0], "id_number": ids[0]}).status == 200
    policies = another_api.get("/v1/policies")
    assert policies.status == 200
    assert [p["benefit_start"] for p in policies.body if p["plan_id"] == "lishui-2022"] == ["2022-01-01"]

    # a member, a claims reviewer and a bureau user of another city are refused
    assert submit(another_api, {}, {**body, "rows": rows}).status == 403
    assert submit(api, staff(api, "claims_reviewer", "e2e-reviewer", ["331100"]), {**body, "rows": rows}).status == 403
    assert submit(api, staff(api, "bureau", "e2e-bureau-hz", ["330100"]), {**body, "rows": rows}).status == 403

    # collective: waits for the transfer, refused to its creator, issued after another staff member confirms
    person(api, names[3], ids[3])
    creator = staff(api, "insurer_admin", "e2e-admin-a", ["331100"])
    other = staff(api, "insurer_admin", "e2e-admin-b", ["331100"])
    collective = submit(api, creator, {"plan_id": "lishui-2022", "funding": "collective",
                                       "payer": {"name": "丽水某某有限公司", "credit_code": CREDIT_CODE},
                                       "rows": [{"name": names[3], "id_number": ids[3]}]})
    assert collective.status == 202, collective.body
    batch_url = f"{URL}/{collective.body['batch_id']}"
    waiting = api.get(batch_url, headers=creator).body
    assert (waiting["status"], waiting["amount_fen"]) == ("awaiting_payment", 10700)
    refused = api.post(f"{batch_url}/payment-received", {}, headers=creator)
    assert refused.status == 403 and refused.body["code"] == "BULK_CONFIRMER_IS_CREATOR"
    confirmed = api.post(f"{batch_url}/payment-received", {}, headers=other)
    assert confirmed.status == 200, confirmed.body
    assert confirmed.body["status"] == "done" and confirmed.body["counts"]["issued"] == 1

    report = api.get("/v1/disclosure/lishui-2022").body
    by_channel = {c["channel"]: c["enrolled"] for c in report["by_channel"]}
    assert by_channel["subsidy"] >= 3 and by_channel["collective"] >= 1
