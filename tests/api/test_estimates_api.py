"""POST /v1/estimates: anonymous by plan, by policy for those who may see it, validation, and no state change."""
from __future__ import annotations

import json
from datetime import date

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.repositories.grants import DynamoGrantRepository
from chalicelib.domain.grant import Grant

ESTIMATES = "/v1/estimates"
W1_BILL = {"service_date": "2021-05-01", "setting": "inpatient", "in_policy_after_catastrophic_fen": 3_000_000,
           "self_pay_fen": 5_000_000}
INSURED_ID = "331102198001010011"


def post(client, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = client.http.post(ESTIMATES, body=json.dumps(body), headers=headers)
    return response.status_code, json.loads(response.body)


# ---- anonymous, by plan --------------------------------------------------------------------------------------------
def test_anonymous_estimate_by_plan_matches_w1_and_explains_it(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [W1_BILL]})
    assert status == 200
    assert body["plan_id"] == "lishui-2021"
    assert body["payout_fen"] == 4_650_000
    bill = body["bills"][0]
    assert (bill["covered_fen"], bill["deductible_applied_fen"], bill["eligible_fen"], bill["payout_fen"]) == \
        (8_000_000, 1_800_000, 6_200_000, 4_650_000)
    assert "累计 0 至 200,000.00 元部分:62,000.00 元 × 75% = 46,500.00 元" in bill["explanation"]
    assert body["year_to_date_after"] == {"deductible_used_fen": 1_800_000, "eligible_fen": 6_200_000,
                                          "paid_fen": 4_650_000}
    assert any("结算单为准" in note for note in body["notes"])


def test_bills_come_back_in_request_order_computed_by_service_date(client):
    later = {"service_date": "2021-06-01", "setting": "inpatient", "self_pay_fen": 2_000_000}
    earlier = {"service_date": "2021-05-01", "setting": "inpatient", "self_pay_fen": 1_000_000}
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [later, earlier]})
    assert status == 200
    assert [(b["index"], b["service_date"], b["payout_fen"]) for b in body["bills"]] == \
        [(0, "2021-06-01", 900_000), (1, "2021-05-01", 0)]


def test_what_if_year_to_date_is_used(client):
    ytd = {"deductible_used_fen": 1_800_000, "eligible_fen": 0, "paid_fen": 0}
    status, body = post(client, {"plan_id": "lishui-2021", "year_to_date": ytd,
                                 "bills": [{"service_date": "2021-05-01", "setting": "outpatient",
                                            "self_pay_fen": 1_000_000}]})
    assert status == 200
    assert body["payout_fen"] == 750_000
    assert body["year_to_date_before"] == ytd


def test_dengfeng_outpatient_is_not_covered_with_the_reason(client):
    status, body = post(client, {"plan_id": "dengfeng-2018", "bills": [
        {"service_date": "2019-01-05", "setting": "outpatient", "in_policy_after_catastrophic_fen": 500_000}]})
    assert status == 200
    assert body["payout_fen"] == 0
    assert body["bills"][0]["not_covered_reason"] == "setting_not_covered"
    assert "不在保障范围内" in body["bills"][0]["explanation"][0]


def test_anonymous_bill_outside_the_plans_coverage_is_not_covered(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [dict(W1_BILL, service_date="2020-12-20")]})
    assert status == 200
    assert body["payout_fen"] == 0
    assert body["bills"][0]["not_covered_reason"] == "before_benefit_start"
    assert body["bills"][0]["explanation"][0].startswith("就诊日期 2020-12-20 早于本方案保障开始日 2021-01-01")


def test_unknown_plan_is_404(client):
    status, body = post(client, {"plan_id": "nowhere-2021", "bills": [W1_BILL]})
    assert (status, body["code"]) == (404, "PLAN_NOT_FOUND")


def test_neither_plan_nor_policy_is_400(client):
    status, body = post(client, {"bills": [W1_BILL]})
    assert (status, body["code"], body["details"]["field"]) == (400, "ESTIMATE_PLAN_REQUIRED", "plan_id")


# ---- bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["100", 100.0, 1.5, -1, 1_000_000_000_001, True, None])
def test_amounts_must_be_json_integers_within_range(client, value):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [dict(W1_BILL, self_pay_fen=value)]})
    assert status == 400
    assert body["details"]["field"] == "bills.0.self_pay_fen"


def test_the_largest_amount_is_accepted(client):
    status, body = post(client, {"plan_id": "lishui-2021",
                                 "bills": [dict(W1_BILL, self_pay_fen=1_000_000_000_000)] * 100})
    assert status == 200
    assert len(body["bills"]) == 100


@pytest.mark.parametrize("field", ["deductible_used_fen", "eligible_fen", "paid_fen"])
def test_year_to_date_amounts_are_validated(client, field):
    status, body = post(client, {"plan_id": "lishui-2021", "year_to_date": {field: -5}, "bills": [W1_BILL]})
    assert (status, body["details"]["field"]) == (400, f"year_to_date.{field}")


@pytest.mark.parametrize("bill, field", [
    (dict(W1_BILL, setting="dental"), "bills.0.setting"),
    (dict(W1_BILL, service_date="2021-02-30"), "bills.0.service_date"),
    (dict(W1_BILL, service_date="20210501"), "bills.0.service_date"),
    ({k: v for k, v in W1_BILL.items() if k != "service_date"}, "bills.0.service_date"),
    (dict(W1_BILL, dental_fen=1), "bills.0.dental_fen"),
])
def test_malformed_bills_are_400_naming_the_field(client, bill, field):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [bill]})
    assert (status, body["details"]["field"]) == (400, field)
    assert body["message"]


@pytest.mark.parametrize("bills", [[], [W1_BILL] * 101])
def test_no_bills_or_more_than_100_is_400(client, bills):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": bills})
    assert (status, body["details"]["field"]) == (400, "bills")


def test_missing_bills_is_400(client):
    status, body = post(client, {"plan_id": "lishui-2021"})
    assert (status, body["code"], body["details"]["field"]) == (400, "MISSING_FIELD", "bills")


# ---- by policy ------------------------------------------------------------------------------------------------------
@pytest.fixture()
def people(aws):
    """An insured person with a lishui-2021 policy (benefits from 2021-07-16, some of the year already paid),
    their account, a stranger's account, and a relative holding a `view` authorisation."""
    from chalicelib import deps
    from chalicelib.api.auth import issue_member_token

    table, cipher = deps.table(), deps.cipher()
    insured_hash = cipher.lookup_hash(INSURED_ID)
    table.put({**keys.account("acc-insured"), "account_id": "acc-insured", "person_hash": insured_hash,
               "phone": "13800000001"})
    table.put({**keys.account("acc-stranger"), "account_id": "acc-stranger", "phone": "13800000002"})
    table.put({**keys.account("acc-relative"), "account_id": "acc-relative", "phone": "13800000003"})
    DynamoGrantRepository(table).add(Grant(authorization_id="authz-1", grantor_hash=insured_hash,
                                            grantor_account_id="acc-insured", grantee_phone="13800000003",
                                            scopes=["view"], created_at="2021-04-15T10:00:00+08:00"))
    policy = {**keys.policy("pol-1"), "policy_id": "pol-1", "plan_id": "lishui-2021", "order_id": "ORD1",
              "insured_hash": insured_hash, "insured_name": "王小明",
              "insured_id_enc": cipher.encrypt(INSURED_ID, "id_number"), "payer_account_id": "acc-insured",
              "payment_method": "personal_account", "premium_fen": 9900, "paid_at": "2021-04-15T10:00:00+08:00",
              "status": "active", "benefit_start": "2021-07-16", "coverage_end": "2021-12-31", "waiting_rule": "none",
              "ytd_deductible_used_fen": 1_800_000, "ytd_eligible_fen": 19_000_000, "ytd_paid_fen": 14_250_000,
              "version": 3, "created_at": "2021-04-15T10:00:00+08:00", "county": "331102"}
    table.put(policy)
    return {name: issue_member_token(f"acc-{name}")[0] for name in ("insured", "stranger", "relative")}


def _policy_item():
    from chalicelib import deps

    return deps.table().get(keys.policy("pol-1"))


def test_policy_estimate_uses_the_policys_year_to_date(client, people):
    bill = {"service_date": "2021-08-01", "setting": "inpatient", "self_pay_fen": 2_000_000}
    status, body = post(client, {"policy_id": "pol-1", "bills": [bill]}, people["insured"])
    assert status == 200
    assert (body["plan_id"], body["policy_id"]) == ("lishui-2021", "pol-1")
    # deductible already met; cumulative 19,000,000 → 21,000,000 crosses the 75% / 85% bound
    assert body["payout_fen"] == 750_000 + 850_000
    assert body["year_to_date_before"] == {"deductible_used_fen": 1_800_000, "eligible_fen": 19_000_000,
                                           "paid_fen": 14_250_000}
    assert body["benefit_period"] == {"start": "2021-07-16", "end": "2021-12-31"}
    assert [t["payout_fen"] for t in body["bills"][0]["tiers"]] == [750_000, 850_000]


def test_policy_estimate_refuses_bills_before_benefit_start_with_the_reason(client, people):
    bill = {"service_date": "2021-07-15", "setting": "inpatient", "self_pay_fen": 2_000_000}
    status, body = post(client, {"policy_id": "pol-1", "bills": [bill]}, people["insured"])
    assert status == 200
    assert body["payout_fen"] == 0
    assert body["bills"][0]["explanation"][0] == \
        "就诊日期 2021-07-15 早于本保单待遇开始日 2021-07-16,本次费用 20,000.00 元不予报销"


def test_estimate_never_changes_the_policy(client, people):
    before = _policy_item()
    status, _ = post(client, {"policy_id": "pol-1", "bills": [dict(W1_BILL, service_date="2021-08-01")]},
                     people["insured"])
    assert status == 200
    assert _policy_item() == before


def test_an_authorised_relative_may_estimate_on_the_policy(client, people):
    status, body = post(client, {"policy_id": "pol-1", "bills": [dict(W1_BILL, service_date="2021-08-01")]},
                        people["relative"])
    assert status == 200
    assert body["policy_id"] == "pol-1"


def test_a_stranger_gets_404_for_someone_elses_policy(client, people):
    status, body = post(client, {"policy_id": "pol-1", "bills": [W1_BILL]}, people["stranger"])
    assert (status, body["code"]) == (404, "POLICY_NOT_FOUND")


def test_policy_estimate_needs_a_login(client, people):
    status, body = post(client, {"policy_id": "pol-1", "bills": [W1_BILL]})
    assert (status, body["code"]) == (401, "TOKEN_MISSING")


def test_unknown_policy_is_404(client, people):
    status, body = post(client, {"policy_id": "pol-404", "bills": [W1_BILL]}, people["insured"])
    assert (status, body["code"]) == (404, "POLICY_NOT_FOUND")


def test_policy_with_another_plan_id_is_400(client, people):
    status, body = post(client, {"policy_id": "pol-1", "plan_id": "lishui-2022", "bills": [W1_BILL]},
                        people["insured"])
    assert (status, body["code"], body["details"]["field"]) == (400, "ESTIMATE_PLAN_MISMATCH", "plan_id")


def test_policy_with_a_what_if_year_to_date_is_400(client, people):
    status, body = post(client, {"policy_id": "pol-1", "year_to_date": {"paid_fen": 0}, "bills": [W1_BILL]},
                        people["insured"])
    assert (status, body["code"], body["details"]["field"]) == (400, "ESTIMATE_YTD_WITH_POLICY", "year_to_date")


def test_cancelled_policy_cannot_be_estimated(client, people):
    from chalicelib import deps

    deps.table().put({**_policy_item(), "status": "cancelled"})
    status, body = post(client, {"policy_id": "pol-1", "bills": [W1_BILL]}, people["insured"])
    assert (status, body["code"]) == (422, "ESTIMATE_POLICY_INACTIVE")


def test_bills_during_a_basic_insurance_suspension_are_not_covered(client, people):
    from chalicelib import deps
    from chalicelib.domain.platform import PlatformPerson, SuspensionPeriod

    deps.platform().register(PlatformPerson(
        id_number=INSURED_ID, name="张三", city="331100", basic_type="resident", status="active",
        suspensions=[SuspensionPeriod(start=date(2021, 8, 1), end=date(2021, 8, 31))]))
    bills = [{"service_date": day, "setting": "inpatient", "in_policy_after_catastrophic_fen": 10_000}
             for day in ("2021-07-31", "2021-08-15", "2021-10-01", "2021-12-31")]
    status, body = post(client, {"policy_id": "pol-1", "bills": bills}, people["insured"])
    assert status == 200
    # suspended in August; restored 1 September, then six months' wait (beyond coverage end)
    assert [b["payout_fen"] for b in body["bills"]] == [7_500, 0, 0, 0]
    assert "处于基本医疗保险中断(欠缴或停保)期间(2021-08-01 至 2021-08-31)" in body["bills"][1]["explanation"][0]
    assert "处于基本医疗保险恢复后的等待期(2021-09-01 至 2022-02-28)" in body["bills"][2]["explanation"][0]


def test_platform_outage_still_estimates_and_says_suspensions_were_not_checked(client, people):
    from chalicelib import deps

    deps.platform().fail_next("find_person", "before")
    status, body = post(client, {"policy_id": "pol-1", "bills": [dict(W1_BILL, service_date="2021-08-01")]},
                        people["insured"])
    assert status == 200
    assert any("无法向医保系统核实" in note for note in body["notes"])


def test_the_bill_shape_names_every_setting_and_category_of_the_domain():
    from typing import get_args

    from chalicelib.api.estimates import EstimateBill, SettingIn
    from chalicelib.domain.plan import CATEGORIES, SETTINGS

    assert get_args(SettingIn) == SETTINGS
    amount_fields = {name for name in EstimateBill.model_fields if name.endswith("_fen")}
    assert amount_fields == {f"{c}_fen" for c in CATEGORIES}
