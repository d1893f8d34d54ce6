"""e2e over HTTP against `make run` (DOMAIN §9): consent in 2021 from the personal account, the notice on the next
plan's notice day, one deduction of 107 yuan and a lishui-2022 policy on its deduction day; the job run again changes
nothing; stopping after the deduction is refused."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_family_order import person
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e


def test_consent_notice_one_deduction_and_a_new_policy(api):
    me = make_test_id("331102", date(1975, 6, 6), 301)
    assert api.put("/sandbox/clock", {"now": "2020-12-15T10:00:00+08:00"}).status == 200
    person(api, "周文", me, account_current_fen=50_000, account_prior_years_fen=0)
    login_by_sms(api, "13700000301")
    assert api.put("/v1/me/identity", {"name": "周文", "id_number": me}).status == 200
    placed = api.post("/v1/orders", {"plan_id": "lishui-2021", "insured": ["self"],
                                     "payment_method": "personal_account"},
                      headers={"Idempotency-Key": uuid.uuid4().hex})
    assert placed.status == 201, placed.body
    policy_id = placed.body["policies"][0]["policy_id"]

    assert api.put("/sandbox/clock", {"now": "2021-05-01T09:00:00+08:00"}).status == 200
    consented = api.put(f"/v1/policies/{policy_id}/auto-renewal", {"enabled": True})
    assert consented.status == 200 and consented.body["renewal"]["status"] == "consented", consented.body

    assert api.put("/sandbox/clock", {"now": "2021-11-01T09:00:00+08:00"}).status == 200
    noticed = api.post("/sandbox/jobs/renewal_notices")
    assert noticed.status == 200 and noticed.body["counts"]["noticed"] >= 1, noticed.body
    renewal = api.get(f"/v1/policies/{policy_id}").body["renewal"]
    assert renewal["status"] == "noticed" and renewal["notice_sent_at"].startswith("2021-11-01")

    assert api.put("/sandbox/clock", {"now": "2021-12-17T03:00:00+08:00"}).status == 200
    before = api.get(f"/sandbox/people/{me}").body["account_current_fen"]
    renewed = api.post("/sandbox/jobs/renewal_deductions")
    again = api.post("/sandbox/jobs/renewal_deductions")

    assert renewed.status == 200 and renewed.body["counts"]["renewed"] >= 1, renewed.body
    assert again.status == 200 and again.body["counts"].get("renewed", 0) == 0, again.body
    platform = api.get(f"/sandbox/people/{me}").body
    renewals = [d for d in platform["deductions"] if d["idempotency_key"] == f"renewal-{policy_id}-lishui-2022"]
    assert [d["amount_fen"] for d in renewals] == [10_700]
    assert platform["account_current_fen"] == before - 10_700
    renewal = api.get(f"/v1/policies/{policy_id}").body["renewal"]
    assert renewal["status"] == "renewed" and [e["event"] for e in renewal["history"]] == ["consent", "notice",
                                                                                         "renew"]
    new = api.get(f"/v1/policies/{renewal['renewed_policy_id']}").body
    assert (new["plan_id"], new["waiting_rule"], new["auto_renew"]) == ("lishui-2022", "renewal", True)

    stop = api.put(f"/v1/policies/{policy_id}/auto-renewal", {"enabled": False})
    assert stop.status == 422 and stop.body["code"] == "RENEWAL_ALREADY_DEDUCTED"
