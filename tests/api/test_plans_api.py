import json
from datetime import datetime

from chalicelib.adapters.clock import CHINA_TZ


def test_lists_the_four_plans_with_status_from_the_clock(client, clock):
    clock.set(datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ))
    resp = client.http.get("/v1/plans")
    assert resp.status_code == 200
    plans = {p["plan_id"]: p for p in json.loads(resp.body)}
    assert set(plans) == {"lishui-2021", "lishui-2022", "dengfeng-2018", "dengfeng-2019"}
    assert plans["lishui-2021"]["status"] == "open"
    assert plans["lishui-2022"]["status"] == "upcoming"
    assert plans["dengfeng-2018"]["status"] == "closed"
    assert plans["lishui-2021"]["premium_fen"] == 10000


def test_plan_detail_shows_rules_and_benefits(client):
    resp = client.http.get("/v1/plans/lishui-2021")
    assert resp.status_code == 200
    body = json.loads(resp.body)
    assert body["benefits"]["deductible_fen"] == 1800000
    assert [t["ratio"] for t in body["benefits"]["tiers"]] == ["0.75", "0.85", "0.90", "0.95"]
    assert "spouse" in body["personal_account_relationships"]
    assert body["eligibility"]["basic_types_admitted"] == ["employee", "resident"]


def test_unknown_plan_is_404_with_chinese_message(client):
    resp = client.http.get("/v1/plans/nowhere-2030")
    assert resp.status_code == 404
    body = json.loads(resp.body)
    assert body["code"] == "PLAN_NOT_FOUND"
    assert "nowhere-2030" in body["message"]


def test_a_plan_that_renews_another_shows_its_renewal_dates(client):
    body = json.loads(client.http.get("/v1/plans/lishui-2022").body)
    assert body["renewal"]["from_plan_id"] == "lishui-2021"
    assert body["renewal"]["notice_on"] == "2021-11-01"
    assert body["renewal"]["deduction_on"] == "2021-12-17"
    assert body["renewal"]["min_notice_days"] == 7
    assert json.loads(client.http.get("/v1/plans/lishui-2021").body)["renewal"] is None
