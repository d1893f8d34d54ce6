"""Bulk enrolment over HTTP on `make run` (DOMAIN §10): a bureau's list with every kind of row (a person who had
paid for themselves taken over and refunded), the same list again, the roles and cities refused, a collective list
confirmed by a second staff member, disclosure by channel and county. Lists answer 202 at once; the rows are worked
by the job queue's worker — on `make run`, `POST /sandbox/jobs-queue/drain` plays Lambda's SQS poller."""
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


def drain(api) -> int:
    drained = api.post("/sandbox/jobs-queue/drain", {})
    assert drained.status == 200, drained.body
    return drained.body["messages"]


def self_paid(api, phone: str, name: str, id_number: str) -> str:
    """An employee in 莲都区 buys 浙丽保 2022 for themselves from the personal account; returns the policy id."""
    assert api.post("/sandbox/people", {"name": name, "id_number": id_number, "city": "331100", "county": "331102",
                                        "basic_type": "employee", "status": "active", "basic_start": "2000-01-01",
                                        "account_current_fen": 50_000}).status == 201
    login_by_sms(api, phone)
    assert api.put("/v1/me/identity", {"name": name, "id_number": id_number}).status == 200
    order = api.post("/v1/orders", {"plan_id": "lishui-2022", "insured": ["self"],
                                    "payment_method": "personal_account", "auto_renew": False},
                     headers={"Idempotency-Key": uuid.uuid4().hex})
    assert order.status == 201 and order.body["status"] == "paid", order.body
    return order.body["policies"][0]["policy_id"]


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

    payer_id = make_test_id("331102", date(1970, 7, 7), 730)
    own_policy = self_paid(another_api, "13800138702", "郑秀英", payer_id)
    another_api.token = None
    before = api.get("/v1/disclosure/lishui-2022").body

    earlier = submit(api, bureau, {**body, "rows": [{"name": names[2], "id_number": ids[2]}]})
    assert earlier.status == 202, earlier.body
    drain(api)
    rows = [{"name": names[0], "id_number": ids[0], "group": "低保"},
            {"name": "某某", "id_number": ids[1][:-1] + ("1" if ids[1][-1] == "0" else "0")},
            {"name": names[1], "id_number": ids[1], "group": "特困"},
            {"name": names[0], "id_number": ids[0]},
            {"name": "吴晓东", "id_number": elsewhere},
            {"name": names[2], "id_number": ids[2]},
            {"name": "郑秀英", "id_number": payer_id, "group": "低边"}]
    key = uuid.uuid4().hex
    accepted = submit(api, bureau, {**body, "rows": rows}, key=key)
    assert accepted.status == 202 and accepted.body["row_count"] == 7, accepted.body
    assert api.get(f"{URL}/{accepted.body['batch_id']}", headers=bureau).body["status"] == "running"
    assert drain(api) >= 1
    view = api.get(f"{URL}/{accepted.body['batch_id']}", headers=bureau)
    assert view.status == 200 and view.body["status"] == "done", view.body
    assert view.body["counts"] == {"rows": 7, "issued": 3, "taken_over": 1, "already_covered": 1, "refused": 3,
                                   "awaiting_payment": 0}
    assert {r["row"]: r["code"] for r in view.body["refused"]} == {
        2: "ID_NUMBER_INVALID", 4: "DUPLICATE_ROW", 5: "NOT_IN_PLAN_CITY", 6: "ALREADY_COVERED"}
    assert "第 1 行" in next(r["message"] for r in view.body["refused"] if r["row"] == 4)
    assert view.body["amount_fen"] == 3 * 10700  # the county pays for the two new policies and the one taken over
    again = submit(api, bureau, {**body, "rows": rows}, key=key)
    assert (again.status, again.body) == (202, accepted.body)
    drain(api)
    assert api.get(f"{URL}/{accepted.body['batch_id']}", headers=bureau).body["counts"] == view.body["counts"]
    for number in ids[:3]:  # no deduction anywhere
        assert api.get(f"/sandbox/people/{number}").body["deductions"] == []
    # the person who had paid for themselves: refused nothing, refunded once, the same policy now subsidised
    statement = api.get(f"/sandbox/people/{payer_id}").body
    assert [d["amount_fen"] for d in statement["deductions"]] == [10700]
    assert [r["amount_fen"] for r in statement["refunds"]] == [10700]
    login_by_sms(another_api, "13800138702")
    theirs = [p for p in another_api.get("/v1/policies").body if p["plan_id"] == "lishui-2022"]
    assert [p["policy_id"] for p in theirs] == [own_policy]
    cancel = another_api.post(f"/v1/policies/{own_policy}/cancel", {}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert cancel.status == 409 and cancel.body["code"] == "POLICY_TAKEN_OVER", cancel.body
    assert len(api.get(f"/sandbox/people/{payer_id}").body["refunds"]) == 1
    another_api.token = None

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
    drain(api)
    waiting = api.get(batch_url, headers=creator).body
    assert (waiting["status"], waiting["amount_fen"]) == ("awaiting_payment", 10700)
    refused = api.post(f"{batch_url}/payment-received", {}, headers=creator)
    assert refused.status == 403 and refused.body["code"] == "BULK_CONFIRMER_IS_CREATOR"
    confirmed = api.post(f"{batch_url}/payment-received", {}, headers=other)
    assert confirmed.status == 200 and confirmed.body["status"] == "issuing", confirmed.body
    drain(api)
    issued = api.get(batch_url, headers=creator).body
    assert issued["status"] == "done" and issued["counts"]["issued"] == 1 and issued["confirmed_by"] == "e2e-admin-b"

    # disclosure: the channels apart, by county (莲都区), with the county's rate and target
    report = api.get("/v1/disclosure/lishui-2022").body

    def cells(r):
        return {(c["county"], c["channel"]): c["enrolled"] for c in r["by_county_channel"]}

    now, was = cells(report), cells(before)
    assert now[("331102", "subsidy")] - was.get(("331102", "subsidy"), 0) == 4  # 3 listed + 1 taken over
    assert now[("331102", "collective")] - was.get(("331102", "collective"), 0) == 1
    assert now.get(("331102", "personal_account"), 0) == was[("331102", "personal_account")] - 1
    by_channel = {c["channel"]: c["enrolled"] for c in report["by_channel"]}
    assert by_channel["subsidy"] >= 4 and by_channel["collective"] >= 1
    lian_du = next(c for c in report["by_county"] if c["county"] == "331102")
    assert lian_du["county_name"] == "莲都区" and lian_du["insured_population"] == 520000
    assert lian_du["participation_target"] is not None and lian_du["rate"] is not None
