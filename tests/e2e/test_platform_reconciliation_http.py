"""e2e over HTTP against `make run` (DOMAIN §9.10): the daily platform reconciliation (对账) of a day on which one
order was paid, one order's answer was lost after the platform took the money, and the platform booked a deduction
nobody asked for. `POST /sandbox/jobs/platform_reconciliation` at 03:30 the next morning completes the lost order
(one deduction, a policy), turns the foreign line into one staff task, and a second run adds nothing."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from chalicelib.domain.resident_id import make_test_id
from tests.e2e.test_family_order import person
from tests.e2e.test_smoke import login_by_sms

pytestmark = pytest.mark.e2e

ORDER_DAY = "2020-12-28"  # a day no other e2e test places orders on: its statement is this test's alone
LOCAL_PLATFORM_SECRET = b"local-only-medical-platform-secret"  # chalicelib/config.py, the local stage's value


def staff_token(api, role: str, cities: list[str]) -> str:
    issued = api.post("/sandbox/staff-token", {"role": role, "staff_id": f"recon-{role}", "cities": cities})
    assert issued.status in (200, 201), issued.body
    return issued.body["token"]


def order(api) -> tuple[int, dict]:
    placed = api.post("/v1/orders", {"plan_id": "lishui-2021", "insured": ["self"],
                                     "payment_method": "personal_account"},
                      headers={"Idempotency-Key": uuid.uuid4().hex})
    return placed.status, placed.body


def test_the_next_mornings_reconciliation_completes_a_lost_answer_and_reports_a_foreign_line_once(
        api, another_api, base_url):
    from chalicelib.adapters.medical_platform_http import HttpPlatform

    me = make_test_id("331102", date(1972, 4, 4), 411)
    other = make_test_id("331102", date(1973, 5, 5), 413)
    assert api.put("/sandbox/clock", {"now": f"{ORDER_DAY}T10:00:00+08:00"}).status == 200
    person(api, "郑明", me, account_current_fen=50_000, account_prior_years_fen=0)
    login_by_sms(api, "13700000411")
    assert api.put("/v1/me/identity", {"name": "郑明", "id_number": me}).status == 200
    paid_status, paid = order(api)
    assert paid_status == 201, paid

    person(api, "钱芳", other, account_current_fen=50_000, account_prior_years_fen=0)
    login_by_sms(another_api, "13700000413")
    assert another_api.put("/v1/me/identity", {"name": "钱芳", "id_number": other}).status == 200
    assert api.post("/sandbox/platform/faults", {"operation": "deduct", "when": "after"}).status in (200, 201, 204)
    lost_status, lost = order(another_api)
    assert lost_status == 503 and lost["code"] == "PAYMENT_RESULT_PENDING", lost
    lost_order = lost["details"]["order_id"]

    platform = HttpPlatform(base_url + "/sandbox/platform", secret=LOCAL_PLATFORM_SECRET)
    platform.deduct(me, "current", 123, f"not-ours-{uuid.uuid4().hex[:8]}", reference="SOMEONE-ELSE")

    assert api.put("/sandbox/clock", {"now": "2020-12-29T03:30:00+08:00"}).status == 200
    first = api.post("/sandbox/jobs/platform_reconciliation")
    again = api.post("/sandbox/jobs/platform_reconciliation")

    assert first.status == 200, first.body
    counts = first.body["counts"]
    assert (counts["statement"], counts["completed"], counts["differences"], counts["new_differences"]) == (
        3, 1, 1, 1), counts
    assert (again.body["counts"]["completed"], again.body["counts"]["new_differences"]) == (0, 0), again.body
    completed = another_api.get(f"/v1/orders/{lost_order}")
    assert completed.status == 200 and completed.body["status"] == "paid", completed.body
    theirs = api.get(f"/sandbox/people/{other}").body
    assert [d["reference"] for d in theirs["deductions"]] == [lost_order]  # one deduction, never a second

    api.token = staff_token(api, "insurer_admin", ["331100"])
    listed = api.get(f"/v1/admin/reconciliation-differences?day={ORDER_DAY}")
    assert listed.status == 200, listed.body
    [task] = listed.body
    assert (task["kind"], task["entry_kind"], task["platform_fen"], task["ours_fen"]) == (
        "not_ours", "deduction", 123, None)
    assert me not in str(listed.body) and "郑明" not in str(listed.body)
    assert api.get("/v1/admin/reconciliation-differences").status == 400
