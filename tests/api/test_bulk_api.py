"""Bulk enrolment over HTTP (DOMAIN §10, API.md v1.1): a bureau's subsidised list and an insurer's collective one.
The POST answers 202 before any row is worked; the rows are worked by the job queue's worker, which the local stage
runs when asked (`drain()`: `POST /sandbox/jobs-queue/drain`, what Lambda's SQS poller does deployed)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from tests.claim_helpers import call
from tests.helpers import Member, bind_identity, new_id, register_person

ACCEPTED = datetime(2021, 11, 15, 10, 0, tzinfo=CHINA_TZ)  # in 浙丽保 2022's window: benefits from 1 Jan 2022
URL = "/v1/admin/bulk-enrolments"
LISHUI = "331100"
CREDIT_CODE = "91330000MA27U0AB1X"  # hypothetical; a valid GB 32100 check character (checked below)


def staff(role: str, staff_id: str | None = None, cities: list[str] | None = None) -> dict[str, str]:
    from chalicelib.api.auth import issue_staff_token

    token = issue_staff_token(staff_id or f"{role}-1", role, cities=cities)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


BUREAU = {"cities": [LISHUI]}


def bureau(staff_id: str = "bureau-lishui") -> dict[str, str]:
    return staff("bureau", staff_id, [LISHUI])


def subsidy_body(rows: list[dict], county: str = "331102") -> dict:
    return {"plan_id": "lishui-2022", "funding": "subsidy", "programme": "2022 年度困难群众参保资助",
            "payer": {"name": "丽水市莲都区人民政府", "county": county}, "rows": rows}


def drain(client) -> int:
    status, drained = call(client, "POST", "/sandbox/jobs-queue/drain", {}, {})
    assert status == 200, drained
    return drained["messages"]


def submit(client, headers, body, key: str | None = None, work: bool = True):
    """POST the list; then (`work`) let the job worker work the queue, as it would deployed."""
    answer = call(client, "POST", URL, headers, body, key=key or uuid.uuid4().hex)
    if work:
        drain(client)
    return answer


def confirm(client, headers, batch_id: str):
    status, body = call(client, "POST", f"{URL}/{batch_id}/payment-received", headers, {})
    drain(client)
    return status, body


def batch(client, headers, batch_id: str, query: str = ""):
    return call(client, "GET", f"{URL}/{batch_id}{query}", headers)


@pytest.fixture()
def people(clock):
    clock.set(ACCEPTED)
    valid = [(name, new_id(seq=400 + 2 * n)) for n, name in enumerate(("张秀英", "李建国", "王桂兰"))]
    for name, number in valid:
        register_person(name, number, county="331102", special_groups=["低保"])
    elsewhere = ("外市人", new_id(region="330102", seq=480))
    register_person(*elsewhere, city="330100")
    return {"valid": valid, "elsewhere": elsewhere}


def test_a_bureau_list_issues_the_valid_rows_and_reports_every_other_with_its_reason(client, people):
    from chalicelib import deps

    (a, id_a), (b, id_b), (c, id_c) = people["valid"]
    # c is on an earlier list: one policy per person per plan
    status, first = submit(client, bureau(), subsidy_body([{"name": c, "id_number": id_c, "group": "低保"}]))
    assert status == 202 and first["row_count"] == 1
    bad_id = id_a[:-1] + ("0" if id_a[-1] != "0" else "1")
    rows = [{"name": a, "id_number": id_a, "group": "低保"},  # 1 issued
            {"name": "某某", "id_number": bad_id},  # 2 invalid ID
            {"name": b, "id_number": id_b, "group": "特困"},  # 3 issued
            {"name": a, "id_number": id_a},  # 4 duplicate of row 1
            {"name": people["elsewhere"][0], "id_number": people["elsewhere"][1]},  # 5 not in the plan's city
            {"name": c, "id_number": id_c},  # 6 already covered (the earlier list)
            {"name": "查无此人", "id_number": new_id(seq=490)}]  # 7 unknown to the platform
    key = uuid.uuid4().hex
    status, accepted = submit(client, bureau(), subsidy_body(rows), key=key)
    assert status == 202, accepted
    assert accepted["status"] == "running" and accepted["row_count"] == 7

    status, view = batch(client, bureau(), accepted["batch_id"])
    assert status == 200, view
    assert view["status"] == "done"
    assert view["counts"] == {"rows": 7, "issued": 2, "taken_over": 0, "already_covered": 1, "refused": 4, "awaiting_payment": 0}
    assert view["counts"]["rows"] == sum(view["counts"][k] for k in ("issued", "already_covered", "refused"))
    assert view["amount_fen"] == 2 * 10700
    codes = {r["row"]: r["code"] for r in view["refused"]}
    assert codes == {2: "ID_NUMBER_INVALID", 4: "DUPLICATE_ROW", 5: "NOT_IN_PLAN_CITY", 6: "ALREADY_COVERED",
                     7: "PERSON_NOT_FOUND_IN_PLATFORM"}
    assert "第 1 行" in next(r["message"] for r in view["refused"] if r["row"] == 4)
    for r in view["refused"]:  # masked, never the number itself
        assert "*" in r["id_number_masked"] and r["id_number_masked"] not in (id_a, id_c, bad_id)
    assert view["created_by"] == "bureau-lishui"

    # nobody was charged anywhere
    assert deps.platform().deductions == {}
    # disclosure counts the channel apart: 3 subsidised (2 now + 1 on the earlier list), in 莲都区
    _, report = call(client, "GET", "/v1/disclosure/lishui-2022", {})
    subsidy = next(c for c in report["by_channel"] if c["channel"] == "subsidy")
    assert subsidy["enrolled"] == 3
    cell = next(c for c in report["by_county_channel"] if c["channel"] == "subsidy")
    assert (cell["county"], cell["enrolled"]) == ("331102", 3)

    # the same list again with the same key: the same answer, nothing twice
    status, again = submit(client, bureau(), subsidy_body(rows), key=key)
    assert (status, again) == (202, accepted)
    _, view_again = batch(client, bureau(), accepted["batch_id"])
    assert view_again["counts"] == view["counts"]

    # the listed person sees the policy once they bind: paid by the county government, benefits from 1 Jan
    member = Member(client, "13900000401", a, id_a)
    bind_identity(client, member.headers, a, id_a)
    status, policies = call(client, "GET", "/v1/policies", member.headers)
    assert status == 200, policies
    mine = [p for p in policies if p["plan_id"] == "lishui-2022"]
    assert len(mine) == 1
    assert mine[0]["benefit_start"] == "2022-01-01"


def test_refused_rows_page_and_download_as_csv(client, people):
    rows = [{"name": "某某", "id_number": "12345"} for _ in range(3)] + \
           [{"name": n, "id_number": i} for n, i in people["valid"][:1]]
    _, accepted = submit(client, bureau(), subsidy_body(rows))
    status, page1 = batch(client, bureau(), accepted["batch_id"], "?limit=2")
    assert status == 200 and [r["row"] for r in page1["refused"]] == [1, 2] and page1["next"]
    _, page2 = batch(client, bureau(), accepted["batch_id"], f"?limit=2&cursor={page1['next']}")
    assert [r["row"] for r in page2["refused"]] == [3] and page2["next"] is None
    response = client.http.get(f"{URL}/{accepted['batch_id']}?format=csv", headers=bureau())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.body.decode("utf-8-sig")
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("行号,") and len(lines) == 4 and lines[1].startswith("1,")


def test_members_claims_reviewers_other_cities_and_the_wrong_role_are_refused(client, people):
    from tests.helpers import login

    body = subsidy_body([{"name": n, "id_number": i} for n, i in people["valid"]])
    member = login(client, "13900000402")
    assert submit(client, member, body)[0] == 403
    assert submit(client, staff("claims_reviewer"), body)[0] == 403
    status, refused = submit(client, staff("bureau", "bureau-hangzhou", ["330100"]), body)
    assert status == 403 and refused["code"] == "BULK_CITY_FORBIDDEN"
    status, refused = submit(client, staff("insurer_admin", "admin-lishui", [LISHUI]), body)
    assert status == 403 and refused["code"] == "BULK_ROLE_FOR_FUNDING"
    # nothing was written: no policy for anyone
    _, accepted = submit(client, bureau(), body)
    _, view = batch(client, bureau(), accepted["batch_id"])
    assert view["counts"]["issued"] == 3
    # another city's staff cannot read the batch either
    assert batch(client, staff("bureau", "bureau-hangzhou", ["330100"]), accepted["batch_id"])[0] == 404


def test_a_collective_list_waits_for_a_second_staff_member_to_confirm_the_transfer(client, people, clock):
    from stdnum.cn import uscc

    assert uscc.is_valid(CREDIT_CODE)
    creator, other = staff("insurer_admin", "admin-a", [LISHUI]), staff("insurer_admin", "admin-b", [LISHUI])
    body = {"plan_id": "lishui-2022", "funding": "collective",
            "payer": {"name": "丽水某某有限公司", "credit_code": CREDIT_CODE},
            "rows": [{"name": n, "id_number": i} for n, i in people["valid"]] + [{"name": "某某", "id_number": "1"}]}
    bad = json.loads(json.dumps(body))
    bad["payer"]["credit_code"] = CREDIT_CODE[:-1] + ("0" if CREDIT_CODE[-1] != "0" else "1")
    status, refused = submit(client, creator, bad)
    assert status == 400 and refused["code"] == "CREDIT_CODE_INVALID"
    del bad["payer"]["credit_code"]
    assert submit(client, creator, bad)[1]["code"] == "BULK_PAYER_CREDIT_CODE_REQUIRED"

    status, accepted = submit(client, creator, body)
    assert status == 202, accepted
    batch_id = accepted["batch_id"]
    _, view = batch(client, creator, batch_id)
    assert view["status"] == "awaiting_payment"
    assert view["counts"] == {"rows": 4, "issued": 0, "taken_over": 0, "already_covered": 0, "refused": 1, "awaiting_payment": 3}
    assert view["amount_fen"] == 3 * 10700

    status, refused = call(client, "POST", f"{URL}/{batch_id}/payment-received", creator, {})
    assert status == 403 and refused["code"] == "BULK_CONFIRMER_IS_CREATOR"
    assert batch(client, creator, batch_id)[1]["counts"]["issued"] == 0

    clock.set(datetime(2022, 2, 10, 9, 0, tzinfo=CHINA_TZ))  # the transfer arrives after the window
    status, done = confirm(client, other, batch_id)
    assert status == 200 and done["status"] == "issuing", done  # the policies issue on the job queue
    _, view = batch(client, creator, batch_id)
    assert view["status"] == "done" and view["confirmed_by"] == "admin-b"
    assert view["counts"] == {"rows": 4, "issued": 3, "taken_over": 0, "already_covered": 0, "refused": 1, "awaiting_payment": 0}
    # confirming again issues nothing twice
    assert confirm(client, other, batch_id)[1]["counts"]["issued"] == 3

    # benefits start from the confirmed transfer (DOMAIN §4.3: six months after payment), not the list's date
    from chalicelib import deps
    from chalicelib.adapters.repositories.policies import PolicyRepository

    policy = PolicyRepository(deps.table()).get(f"POL{batch_id[3:]}{1:07d}")
    assert policy is not None and policy.payment_method == "collective"
    assert policy.benefit_start == "2022-08-10"
    assert deps.platform().deductions == {}


def test_every_row_is_worked_once_however_often_it_is_delivered_or_the_run_repeated(client, people):
    from chalicelib import deps, jobs
    from chalicelib.services import bulk

    rows = [{"name": n, "id_number": i} for n, i in people["valid"]] + [{"name": "某某", "id_number": "1"}]
    _, accepted = submit(client, bureau(), subsidy_body(rows))
    batch_id = accepted["batch_id"]
    _, before = batch(client, bureau(), batch_id)
    assert before["counts"]["issued"] == 3

    # the same run again (an interrupted run resumed by running the job over the batch once more)
    run = jobs.run_now(bulk.JOB, params={"batch_id": batch_id, "phase": "screen"})
    assert run.counts == {"skipped": 4}
    # one message's row delivered again, straight to the handler
    p = deps.bulk_ports()
    stored = next(p.batches.rows(batch_id, 1))
    assert bulk.handle(p, batch_id, "screen", stored, deps.clock().now()) == "skipped"
    _, after = batch(client, bureau(), batch_id)
    assert after["counts"] == before["counts"]
    policies = deps.table().query_all("GSI1PK", f"PERSON#{stored.id_hash}", index="GSI1")
    assert len(list(policies)) == 1


def test_the_request_is_checked_before_anything_is_written(client, people):
    name, number = people["valid"][0]
    rows = [{"name": name, "id_number": number}]
    key = uuid.uuid4().hex
    assert submit(client, bureau(), subsidy_body(rows), key=key)[0] == 202
    status, reused = submit(client, bureau(), subsidy_body(rows + rows), key=key)  # same key, another body
    assert status == 409 and reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    status, refused = submit(client, bureau(), subsidy_body(rows, county="110101"))
    assert status == 400 and refused["code"] == "BULK_PAYER_COUNTY_UNKNOWN"
    assert submit(client, bureau(), subsidy_body([]))[0] == 400
    dengfeng = {**subsidy_body(rows), "plan_id": "dengfeng-2019"}
    status, refused = submit(client, staff("bureau", "bureau-all"), dengfeng)
    assert status == 400 and refused["code"] == "BULK_FUNDING_NOT_OFFERED"
    # an ID a sheet turned into a number is refused for its row, not for the list
    status, accepted = submit(client, bureau(), subsidy_body([{"name": "张三", "id_number": 331102198001011234}]))
    assert status == 202
    _, view = batch(client, bureau(), accepted["batch_id"])
    assert [r["code"] for r in view["refused"]] == ["ID_NUMBER_AS_NUMBER"]
    assert batch(client, bureau(), "BLKNOSUCHBATCH")[0] == 404


def test_a_list_sent_as_a_gbk_csv_file_is_uploaded_then_started(client, people):
    import boto3

    from chalicelib.config import get_settings

    (a, id_a), (b, id_b), _ = people["valid"]
    body = {**subsidy_body([]), "upload": {"format": "csv"}}
    del body["rows"]
    key = uuid.uuid4().hex
    status, accepted = submit(client, bureau(), body, key=key)
    assert status == 202, accepted
    assert accepted["status"] == "awaiting_upload"
    assert accepted["upload"]["fields"]["key"] == f"bulk-lists/lishui-2022/{accepted['batch_id']}.csv"
    batch_id = accepted["batch_id"]
    start_url = f"{URL}/{batch_id}/start"
    status, early = call(client, "POST", start_url, bureau(), {})
    assert status == 409 and early["code"] == "BULK_FILE_NOT_UPLOADED"

    # what Excel on a Chinese Windows writes: GBK, the header in Chinese, an extra column
    sheet = f"序号,姓名,身份证号码,类别\r\n1,{a},{id_a},低保\r\n2,{b},{id_b},特困\r\n3,{a},{id_a},低保\r\n"
    s3 = boto3.client("s3", region_name="cn-north-1")
    object_key = accepted["upload"]["fields"]["key"]
    s3.put_object(Bucket=get_settings().bucket_name, Key=object_key, Body=sheet.encode("gbk"), ContentType="text/csv")
    status, started = call(client, "POST", start_url, bureau(), {})
    assert (status, started) == (202, {"status": "running", "row_count": None}), started  # read by the worker
    assert batch(client, bureau(), batch_id)[1]["status"] == "running"
    drain(client)
    _, view = batch(client, bureau(), batch_id)
    assert view["status"] == "done"
    assert view["counts"] == {"rows": 3, "issued": 2, "taken_over": 0, "already_covered": 0, "refused": 1, "awaiting_payment": 0}
    assert [(r["row"], r["code"]) for r in view["refused"]] == [(4, "DUPLICATE_ROW")]  # the sheet's own row number
    # the file (ID numbers in clear) is gone once its rows are stored encrypted; a second start changes nothing
    assert s3.list_objects_v2(Bucket=get_settings().bucket_name, Prefix=object_key).get("KeyCount", 0) == 0
    assert call(client, "POST", start_url, bureau(), {})[1] == {"status": "done", "row_count": 3}
    assert drain(client) == 0
    assert batch(client, bureau(), batch_id)[1]["counts"] == view["counts"]


def test_a_listed_person_who_paid_for_themselves_keeps_the_policy_and_is_refunded_once(client, people):
    """DOMAIN §10.4: the government takes over the premium of a self-paid policy; the row counts as issued (and
    taken over), the member's payment goes back through the orders' refund path, exactly once."""
    from chalicelib import deps
    from tests.orders_support import Family

    payer = Family(client, phone="13900000450")
    status, order = payer.order(["self"], plan_id="lishui-2022")
    assert status == 201, order
    own_policy = order["policies"][0]["policy_id"] if "policies" in order else order["policy_ids"][0]
    paid = payer.balances()
    assert len(paid["deductions"]) == 1 and paid["refunds"] == []
    _, before = call(client, "GET", "/v1/disclosure/lishui-2022", {})

    (a, id_a), _, _ = people["valid"]
    rows = [{"name": "王建国", "id_number": payer.id_number, "group": "低保"}, {"name": a, "id_number": id_a}]
    status, accepted = submit(client, bureau(), subsidy_body(rows))
    assert status == 202, accepted
    _, view = batch(client, bureau(), accepted["batch_id"])
    assert view["counts"] == {"rows": 2, "issued": 2, "taken_over": 1, "already_covered": 0, "refused": 0,
                              "awaiting_payment": 0}
    assert view["refused"] == [] and view["amount_fen"] == 2 * 10700  # the county pays for both

    # the same policy, now paid by the county government; the premium went back to the personal account
    _, policies = call(client, "GET", "/v1/policies", payer.headers)
    mine = [p for p in policies if p["plan_id"] == "lishui-2022"]
    assert [p["policy_id"] for p in mine] == [own_policy]
    stored = deps.table().get({"PK": f"POLICY#{own_policy}", "SK": "POLICY"})
    assert stored["payment_method"] == "subsidy"
    assert stored["taken_over"]["batch_id"] == accepted["batch_id"]
    assert stored["taken_over"]["previous_payment_method"] == "personal_account"
    refunded = payer.balances()
    assert [r["amount_fen"] for r in refunded["refunds"]] == [10700]
    assert refunded["account_current_fen"] == 50000

    # disclosure moves the policy from the member's channel to the subsidy's (enrolled unchanged overall)
    _, after = call(client, "GET", "/v1/disclosure/lishui-2022", {})
    channels = {c["channel"]: c["enrolled"] for c in after["by_channel"]}
    was = {c["channel"]: c["enrolled"] for c in before["by_channel"]}
    assert channels.get("personal_account", 0) == was.get("personal_account", 0) - 1
    assert channels["subsidy"] == was.get("subsidy", 0) + 2

    # nothing twice: the row again (redelivered), the same person on another list, a cancellation
    p = bulk_ports()
    stored_row = next(p.batches.rows(accepted["batch_id"], 1))
    assert bulk_handle(p, accepted["batch_id"], stored_row) == "skipped"
    status, second = submit(client, bureau(), subsidy_body(rows[:1]))
    _, second_view = batch(client, bureau(), second["batch_id"])
    assert [r["code"] for r in second_view["refused"]] == ["ALREADY_COVERED"]
    status, cancelled = call(client, "POST", f"/v1/policies/{own_policy}/cancel", payer.headers, {},
                             key=uuid.uuid4().hex)
    assert status == 409 and cancelled["code"] == "POLICY_TAKEN_OVER"
    assert len(payer.balances()["refunds"]) == 1


def test_a_collective_list_never_takes_over_a_self_paid_policy(client, people, clock):
    from tests.orders_support import Family

    payer = Family(client, phone="13900000451")
    assert payer.order(["self"], plan_id="lishui-2022")[0] == 201
    creator = staff("insurer_admin", "admin-a", [LISHUI])
    _, accepted = submit(client, creator, {"plan_id": "lishui-2022", "funding": "collective",
                                           "payer": {"name": "丽水某某有限公司", "credit_code": CREDIT_CODE},
                                           "rows": [{"name": "王建国", "id_number": payer.id_number}]})
    _, view = batch(client, creator, accepted["batch_id"])
    assert [r["code"] for r in view["refused"]] == ["ALREADY_COVERED"]
    assert payer.balances()["refunds"] == []


def bulk_ports():
    from chalicelib import deps

    return deps.bulk_ports()


def bulk_handle(p, batch_id: str, row) -> str:
    from chalicelib import deps
    from chalicelib.services import bulk

    return bulk.handle(p, batch_id, "screen", row, deps.clock().now())


def test_stored_rows_and_the_refused_rows_report_expire_after_the_plans_retention_period(client, people, clock):
    """DOMAIN §10.4: the list's rows (encrypted IDs) and its report (masked IDs) carry the table's TTL — the plan's
    retention period after acceptance; a collective list unconfirmed by then cannot be confirmed any more."""
    from chalicelib import deps
    from chalicelib.adapters.schema import TTL_ATTRIBUTE
    from chalicelib.plans import get_plan

    days = get_plan("lishui-2022").bulk_enrolment.retention_days
    expected = int((datetime(2021, 11, 15, tzinfo=CHINA_TZ) + timedelta(days=days)).timestamp())
    (a, id_a), _, _ = people["valid"]
    _, accepted = submit(client, bureau(), subsidy_body([{"name": a, "id_number": id_a}, {"name": "某", "id_number": "1"}]))
    partition = deps.table().query_all("PK", f"BULK#{accepted['batch_id']}")
    expiring = {i["SK"].split("#")[0]: i.get(TTL_ATTRIBUTE) for i in partition if i["SK"] != "BATCH"}
    assert expiring == {"CHUNK": expected, "ROW": expected}
    batch_item = deps.table().get({"PK": f"BULK#{accepted['batch_id']}", "SK": "BATCH"})
    assert TTL_ATTRIBUTE not in batch_item  # the batch and its counts stay; so do the policies

    creator, other = staff("insurer_admin", "admin-a", [LISHUI]), staff("insurer_admin", "admin-b", [LISHUI])
    _, collective = submit(client, creator, {"plan_id": "lishui-2022", "funding": "collective",
                                             "payer": {"name": "丽水某某有限公司", "credit_code": CREDIT_CODE},
                                             "rows": [{"name": n, "id_number": i} for n, i in people["valid"][1:]]})
    clock.set(datetime(2021, 11, 15, tzinfo=CHINA_TZ) + timedelta(days=days, hours=1))
    status, refused = call(client, "POST", f"{URL}/{collective['batch_id']}/payment-received", other, {})
    assert status == 409 and refused["code"] == "BULK_BATCH_EXPIRED"


def test_the_list_is_accepted_at_once_and_worked_by_the_job_queue(client, people):
    rows = [{"name": n, "id_number": i} for n, i in people["valid"]]
    status, accepted = submit(client, bureau(), subsidy_body(rows), work=False)
    assert (status, accepted["status"], accepted["row_count"]) == (202, "running", 3)
    _, waiting = batch(client, bureau(), accepted["batch_id"])
    assert waiting["status"] == "running"
    assert waiting["counts"] == {"rows": 3, "issued": 0, "taken_over": 0, "already_covered": 0, "refused": 0,
                                 "awaiting_payment": 0}
    assert drain(client) >= 1  # what Lambda's SQS poller does deployed
    _, done = batch(client, bureau(), accepted["batch_id"])
    assert (done["status"], done["counts"]["issued"]) == ("done", 3)


def test_an_uploaded_file_that_is_no_list_fails_the_batch_with_the_reason(client, people):
    import boto3

    from chalicelib.config import get_settings

    body = {**subsidy_body([]), "upload": {"format": "csv"}}
    del body["rows"]
    _, accepted = submit(client, bureau(), body)
    s3 = boto3.client("s3", region_name="cn-north-1")
    s3.put_object(Bucket=get_settings().bucket_name, Key=accepted["upload"]["fields"]["key"],
                  Body="编号,备注\r\n1,无\r\n".encode("gbk"), ContentType="text/csv")
    status, started = call(client, "POST", f"{URL}/{accepted['batch_id']}/start", bureau(), {})
    assert status == 202, started
    drain(client)
    _, view = batch(client, bureau(), accepted["batch_id"])
    assert view["status"] == "failed" and view["error"]["code"] == "BULK_HEADER_INVALID"
    assert "姓名" in view["error"]["message"]
    assert s3.list_objects_v2(Bucket=get_settings().bucket_name,
                              Prefix=accepted["upload"]["fields"]["key"]).get("KeyCount", 0) == 0


def test_a_wechat_paid_relative_taken_over_is_refunded_once_even_when_wechat_first_fails_to_answer(client, people):
    """The refund goes back by the orders' refund path: part of the family's WeChat trade, sent again by the
    scheduled reconciliation when WeChat did not answer, and never twice."""
    from chalicelib import deps, jobs
    from tests.orders_support import Family

    family = Family(client, phone="13900000452")
    family.relative("spouse", "spouse")
    status, order = family.order(["self", "spouse"], payment_method="wechat_pay", plan_id="lishui-2022")
    assert status == 201, order
    wechat = deps.wechat_pay().simulator
    headers, body = wechat.pay(order["order_id"])
    assert client.http.post("/v1/payments/wechat/notify", headers=headers, body=body).status_code == 200

    spouse = family.ids["spouse"]
    name = deps.platform().find_person(spouse).name
    wechat.fail_next("refund", "before")
    _, accepted = submit(client, bureau(), subsidy_body([{"name": name, "id_number": spouse, "group": "低保"}]))
    _, view = batch(client, bureau(), accepted["batch_id"])
    assert (view["counts"]["issued"], view["counts"]["taken_over"]) == (1, 1)
    assert wechat.trades[order["order_id"]].refunds == {}  # WeChat did not answer: the refund waits in its queue

    jobs.reconcile_orders()
    jobs.reconcile_orders()  # a second run finds nothing left to send
    refunds = wechat.trades[order["order_id"]].refunds
    assert list(refunds.values()) == [10700] and next(iter(refunds)).startswith("RT")
    # the payer's own policy in the same order is untouched
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from tests.helpers import account_id_of

    bought = PolicyRepository(deps.table()).for_payer(account_id_of(family.headers), "lishui-2022")
    assert sorted(p.payment_method for p in bought) == ["subsidy", "wechat_pay"]
    assert [p.taken_over["previous_payment_method"] for p in bought if p.taken_over] == ["wechat_pay"]
