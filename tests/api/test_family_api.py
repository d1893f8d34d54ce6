"""POST/GET/DELETE /v1/family-members: relatives are real people the 医保 platform knows, added once per account,
visible only to the account that added them; the answer says per open plan whether and how they can be covered."""
from __future__ import annotations

import json
import re
from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import (
    id_hash,
    login,
    new_id,
    new_member,
    register_person,
    write_policy,
)

FULL_ID = re.compile(r"\d{17}[\dX]")


@pytest.fixture()
def me(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    return new_member(client, "13800000001", "张三", city="331100", basic_type="employee", prior_years_fen=100000)


def add(client, headers, name, id_number, relationship="spouse"):
    return client.http.post("/v1/family-members", headers=headers,
                            body=json.dumps({"name": name, "id_number": id_number, "relationship": relationship}))


def body(resp):
    assert not FULL_ID.search(resp.body.decode()), "a full ID number leaked into a response"
    return json.loads(resp.body)


def relative(name="李四", **fields):
    id_number = new_id(born=date(1982, 3, 3), female=True)
    register_person(name, id_number, **fields)
    return id_number


def test_adding_a_spouse_tells_how_each_open_plan_could_be_paid(client, me):
    spouse_id = relative()

    resp = add(client, me.headers, "李四", spouse_id, "spouse")

    assert resp.status_code == 201
    member = body(resp)
    assert member["name"] == "李四"
    assert member["relationship"] == "spouse"
    assert member["id_number_masked"] == spouse_id[:6] + "********" + spouse_id[-4:]
    assert member["birth_date"] == "1982-03-03" and member["sex"] == "female"
    assert member["basic_insurance"] == {"type": "employee", "city": "331100", "status": "active"}
    assert [p["plan_id"] for p in member["plans"]] == ["lishui-2021"]  # the only plan on sale on 2021-04-15
    plan = member["plans"][0]
    assert plan["can_enrol"] is True and plan["already_covered"] is False
    assert plan["payment_methods"] == ["wechat_pay", "personal_account"]


def test_personal_account_is_not_offered_for_a_relationship_the_plan_does_not_allow(client, me):
    friend_id = relative("王五")

    plan = body(add(client, me.headers, "王五", friend_id, "other"))["plans"][0]

    assert plan["can_enrol"] is True
    assert plan["payment_methods"] == ["wechat_pay"]


def test_a_resident_payer_has_no_personal_account_to_offer(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    resident = new_member(client, "13800000009", "赵六", basic_type="resident")

    plan = body(add(client, resident.headers, "李四", relative(), "spouse"))["plans"][0]

    assert plan["payment_methods"] == ["wechat_pay"]


@pytest.mark.parametrize("fields, reason_code", [
    ({"city": "410185"}, "NOT_IN_PLAN_CITY"),
    ({"status": "suspended"}, "BASIC_INSURANCE_SUSPENDED"),
])
def test_a_relative_who_cannot_be_covered_is_added_with_the_reason(client, me, fields, reason_code):
    plan = body(add(client, me.headers, "李四", relative(**fields)))["plans"][0]

    assert plan["can_enrol"] is False
    assert plan["reason_code"] == reason_code
    assert "李四" in plan["reason"]
    assert plan["payment_methods"] == []


def test_late_in_the_year_benefits_could_not_start_so_the_plan_is_refused(client, me, clock):
    clock.set(datetime(2021, 8, 1, 9, 0, tzinfo=CHINA_TZ))  # +6 months waiting → 2022-02-01, after coverage end

    plan = body(add(client, me.headers, "李四", relative()))["plans"][0]

    assert plan["can_enrol"] is False
    assert plan["reason_code"] == "BENEFITS_CANNOT_START"


def test_in_december_both_the_running_and_the_next_plan_are_listed(client, me, clock):
    clock.set(datetime(2021, 12, 1, 9, 0, tzinfo=CHINA_TZ))

    plans = {p["plan_id"]: p for p in body(add(client, me.headers, "李四", relative()))["plans"]}

    assert plans["lishui-2021"]["can_enrol"] is False
    assert plans["lishui-2021"]["reason_code"] == "BENEFITS_CANNOT_START"
    assert plans["lishui-2022"]["can_enrol"] is True


def test_a_relative_already_covered_by_anyone_is_flagged(client, me):
    spouse_id = relative()
    write_policy(spouse_id, "李四", payer_account_id="someone-else")

    plan = body(add(client, me.headers, "李四", spouse_id))["plans"][0]

    assert plan["already_covered"] is True
    assert plan["can_enrol"] is False and plan["reason_code"] == "ALREADY_COVERED"


def test_the_platform_must_know_the_relative_under_that_name(client, me):
    spouse_id = relative()

    wrong_name = add(client, me.headers, "李五", spouse_id)
    unknown = add(client, me.headers, "李四", new_id(seq=501))

    assert wrong_name.status_code == 422 and body(wrong_name)["code"] == "PERSON_NOT_FOUND_IN_PLATFORM"
    assert unknown.status_code == 422 and body(unknown)["code"] == "PERSON_NOT_FOUND_IN_PLATFORM"
    assert body(wrong_name)["message"] == body(unknown)["message"]  # cannot be used to probe who is insured


def test_an_invalid_id_number_is_refused_naming_the_field(client, me):
    valid = new_id()
    bad = valid[:-1] + ("0" if valid[-1] != "0" else "1")  # the one wrong check digit (new_id() is random each call)

    resp = add(client, me.headers, "李四", bad)

    assert resp.status_code == 400
    assert body(resp)["code"] == "ID_NUMBER_INVALID" and body(resp)["details"]["field"] == "id_number"


@pytest.mark.parametrize("payload, field", [
    ({"name": "李四", "id_number": "x", "relationship": "cousin"}, "relationship"),
    ({"name": "李四", "relationship": "spouse"}, "id_number"),
    ({"name": "李四", "id_number": "x", "relationship": "spouse", "extra": 1}, "extra"),
    ({"name": 3, "id_number": "x", "relationship": "spouse"}, "name"),
])
def test_malformed_requests_are_400_naming_the_field(client, me, payload, field):
    resp = client.http.post("/v1/family-members", headers=me.headers, body=json.dumps(payload))

    assert resp.status_code == 400
    assert body(resp)["details"]["field"] == field


def test_identity_must_be_bound_before_adding_relatives(client, clock):
    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    headers = login(client, "13800000002")

    resp = add(client, headers, "李四", relative())

    assert resp.status_code == 422 and body(resp)["code"] == "IDENTITY_REQUIRED"


def test_one_cannot_add_oneself(client, me):
    resp = add(client, me.headers, "张三", me.id_number)

    assert resp.status_code == 422 and body(resp)["code"] == "MEMBER_IS_SELF"


def test_the_same_relative_is_added_only_once(client, me):
    spouse_id = relative()
    first = add(client, me.headers, "李四", spouse_id)

    again = add(client, me.headers, "李四", spouse_id, "other")

    assert first.status_code == 201
    assert again.status_code == 409 and body(again)["code"] == "MEMBER_ALREADY_ADDED"
    assert len(body(client.http.get("/v1/family-members", headers=me.headers))) == 1


def test_two_accounts_may_each_add_the_same_relative(client, me):
    spouse_id = relative()
    other = new_member(client, "13800000003", "钱七")

    assert add(client, me.headers, "李四", spouse_id).status_code == 201
    assert add(client, other.headers, "李四", spouse_id, "sibling").status_code == 201


def test_the_list_shows_my_relatives_and_nobody_elses(client, me):
    add(client, me.headers, "李四", relative())
    other = new_member(client, "13800000003", "钱七")

    mine = body(client.http.get("/v1/family-members", headers=me.headers))
    theirs = body(client.http.get("/v1/family-members", headers=other.headers))

    assert [m["name"] for m in mine] == ["李四"]
    assert mine[0]["plans"][0]["can_enrol"] is True
    assert theirs == []


def test_another_account_cannot_read_or_delete_my_relative(client, me):
    member_id = body(add(client, me.headers, "李四", relative()))["member_id"]
    other = new_member(client, "13800000003", "钱七")

    read = client.http.get(f"/v1/family-members/{member_id}", headers=other.headers)
    delete = client.http.delete(f"/v1/family-members/{member_id}", headers=other.headers)

    assert read.status_code == 404 and body(read)["code"] == "MEMBER_NOT_FOUND"
    assert delete.status_code == 404 and body(delete)["code"] == "MEMBER_NOT_FOUND"
    assert client.http.get(f"/v1/family-members/{member_id}", headers=me.headers).status_code == 200


def test_deleting_a_relative_keeps_the_policies_bought_for_them(client, me):
    spouse_id = relative()
    member_id = body(add(client, me.headers, "李四", spouse_id))["member_id"]
    policy_id = write_policy(spouse_id, "李四", me.account_id, payer_id=me.id_number, insured_member_id=member_id)

    resp = client.http.delete(f"/v1/family-members/{member_id}", headers=me.headers)

    assert resp.status_code == 204
    assert client.http.get(f"/v1/family-members/{member_id}", headers=me.headers).status_code == 404
    assert client.http.delete(f"/v1/family-members/{member_id}", headers=me.headers).status_code == 404
    assert client.http.get(f"/v1/policies/{policy_id}", headers=me.headers).status_code == 200


def test_deleted_relative_can_be_added_again(client, me):
    spouse_id = relative()
    member_id = body(add(client, me.headers, "李四", spouse_id))["member_id"]
    client.http.delete(f"/v1/family-members/{member_id}", headers=me.headers)

    again = add(client, me.headers, "李四", spouse_id)

    assert again.status_code == 201


def test_the_stored_member_keeps_the_id_number_encrypted(client, me):
    from chalicelib import deps
    from chalicelib.adapters import keys

    spouse_id = relative()
    member_id = body(add(client, me.headers, "李四", spouse_id))["member_id"]

    item = deps.table().get(keys.family_member(me.account_id, member_id))
    assert spouse_id not in json.dumps(item)
    assert item["id_hash"] == id_hash(spouse_id)
    assert deps.cipher().decrypt(item["id_enc"], "id_number") == spouse_id
    assert item["GSI1PK"] == f"PERSON#{id_hash(spouse_id)}" and item["GSI1SK"] == f"MEMBER#{me.account_id}"


def test_the_platform_not_answering_is_503_and_adds_nobody(client, me):
    from chalicelib import deps

    spouse_id = relative()
    deps.platform().fail_next("find_person", "before")

    resp = add(client, me.headers, "李四", spouse_id)

    assert resp.status_code == 503
    assert body(client.http.get("/v1/family-members", headers=me.headers)) == []


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/family-members"), ("POST", "/v1/family-members"),
    ("GET", "/v1/family-members/M1"), ("DELETE", "/v1/family-members/M1"),
])
def test_every_route_needs_a_login(client, method, path):
    resp = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")

    assert resp.status_code == 401


def test_adding_and_deleting_members_cannot_probe_the_platform_without_limit(client, clock):
    """Each add asks the 医保 platform about a named person; deleting gives no checks back (a daily quota)."""
    from chalicelib.services.family import MEMBER_CHECKS_PER_DAY

    clock.set(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))
    prober = new_member(client, "13700000099", "赵六")
    answers = []
    for n in range(MEMBER_CHECKS_PER_DAY + 1):
        person = new_id(born=date(1990, 1, 1), seq=300 + 2 * n)
        register_person("钱七", person)
        resp = client.http.post("/v1/family-members", headers=prober.headers, body=json.dumps(
            {"name": "钱七", "id_number": person, "relationship": "other"}))
        answers.append(resp.status_code)
        if resp.status_code == 201:
            member_id = json.loads(resp.body)["member_id"]
            assert client.http.delete(f"/v1/family-members/{member_id}", headers=prober.headers).status_code == 204
    assert answers[:MEMBER_CHECKS_PER_DAY] == [201] * MEMBER_CHECKS_PER_DAY
    assert answers[-1] == 429
