"""The daily platform reconciliation (对账, DOMAIN §9.10) over moto and the simulated platform: every personal-account
deduction and refund we asked for on a day — orders, renewals, cancellation refunds — against the platform's
statement. Matches change nothing; a lost answer is completed once; each difference is stored once, listed for the
staff of its city and logged once for the alarm, without personal data. Time is the sandbox clock."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import account_id_of
from tests.orders_support import IN_WINDOW, Family

ORDER_DAY = IN_WINDOW.date()  # 2020-12-15
NEXT_MORNING = datetime(2020, 12, 16, 3, 30, tzinfo=CHINA_TZ)
NOTICE_DAY = datetime(2021, 11, 1, 9, 0, tzinfo=CHINA_TZ)
DEDUCTION_DAY = datetime(2021, 12, 17, 3, 0, tzinfo=CHINA_TZ)
AFTER_DEDUCTION_DAY = datetime(2021, 12, 18, 3, 30, tzinfo=CHINA_TZ)


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    fam = Family(client, name="王建国")
    fam.relative("spouse", "spouse")
    return fam


def reconcile(clock, at: datetime, day: date | None = None) -> dict[str, int]:
    """The job through the real fan-out, at `at` (it reconciles the day before unless told the day)."""
    from chalicelib import jobs

    clock.set(at)
    return dict(jobs.run_now("platform_reconciliation", params={"day": day.isoformat()} if day else None).counts)


def bought(family: Family, insured: list[str], **extra) -> list[str]:
    status, out = family.order(insured, **extra)
    assert status == 201, out
    return [p["policy_id"] for p in out["policies"]]


def differences(day: date) -> list:
    from chalicelib.adapters.repositories.reconciliation import DynamoReconciliationDifferences

    return DynamoReconciliationDifferences(deps.table()).for_day(day.isoformat())


def alarmed(caplog) -> list:
    return [r for r in caplog.records if getattr(r, "reconciliation_difference", None) == "platform"]


def renew(family: Family, clock, insured: list[str]) -> list[str]:
    from chalicelib import jobs

    policies = bought(family, insured, auto_renew=True)
    clock.set(NOTICE_DAY)
    jobs.run_now("renewal_notices")
    clock.set(DEDUCTION_DAY)
    return policies


def test_a_day_of_orders_and_a_cancellation_that_all_match_has_no_difference(family, client, clock, caplog):
    bought(family, ["self"])
    (hers,) = bought(family, ["spouse"])
    cancel = client.http.post(f"/v1/policies/{hers}/cancel", body="{}",
                              headers={**family.headers, "Idempotency-Key": "cancel-hers-0001"})
    assert cancel.status_code in (200, 201), cancel.body

    with caplog.at_level("INFO"):
        counts = reconcile(clock, NEXT_MORNING)

    assert (counts["statement"], counts["ours"], counts["matched"]) == (3, 3, 3), counts  # 2 deductions, 1 refund
    assert (counts["differences"], counts["completed"]) == (0, 0)
    assert differences(ORDER_DAY) == [] and alarmed(caplog) == []


def test_a_renewal_day_is_reconciled_like_any_other(family, clock):
    from chalicelib import jobs

    renew(family, clock, ["self"])
    assert jobs.run_now("renewal_deductions").counts["renewed"] == 1

    counts = reconcile(clock, AFTER_DEDUCTION_DAY)

    assert (counts["statement"], counts["matched"], counts["differences"]) == (1, 1, 0), counts


def test_a_lost_answer_on_an_order_is_completed_once_and_never_deducted_again(family, clock):
    deps.platform().fail_next("deduct", "after")  # the platform took the money; we never heard
    status, out = family.order(["self"])
    assert status == 503, out
    order_id = out["details"]["order_id"]
    assert deps.table().get(keys.order(order_id))["status"] == "settling"

    first = reconcile(clock, NEXT_MORNING)
    again = reconcile(clock, NEXT_MORNING)

    assert (first["completed"], first["differences"]) == (1, 0), first
    assert (again["completed"], again["matched"], again["differences"]) == (0, 1, 0), again
    order = deps.table().get(keys.order(order_id))
    assert order["status"] == "paid"
    assert deps.table().get(keys.policy(order["policy_ids"][0]))["status"] == "active"
    assert len([d for d in family.balances()["deductions"] if d["reference"] == order_id]) == 1


def test_a_renewal_whose_worker_lost_the_answer_is_completed_and_recorded_on_the_old_policy(family, clock):
    from chalicelib import jobs
    from chalicelib.domain.errors import UpstreamUnavailable
    from chalicelib.services.renewals import deduct_one

    (mine,) = renew(family, clock, ["self"])
    deps.platform().fail_next("deduct", "after")
    with pytest.raises(UpstreamUnavailable):  # the worker gave up with the order settling (and then died)
        deduct_one(jobs.renewal_ports(), mine, "lishui-2022", deps.clock().now())

    counts = reconcile(clock, AFTER_DEDUCTION_DAY)
    rerun = dict(jobs.run_now("renewal_deductions").counts)

    assert counts["completed"] == 1 and counts["differences"] == 0, counts
    old = deps.table().get(keys.policy(mine))
    assert old["renewal"]["status"] == "renewed"
    new = deps.table().get(keys.policy(old["renewal"]["renewed_policy_id"]))
    assert (new["plan_id"], new["status"]) == ("lishui-2022", "active")
    assert rerun.get("renewed", 0) == 0
    assert len([d for d in family.balances()["deductions"] if d["idempotency_key"].startswith("renewal-")]) == 1


def test_each_kind_of_difference_is_stored_once_alarmed_once_and_carries_no_personal_data(family, client, clock,
                                                                                         caplog):
    platform = deps.platform()
    (mine,) = bought(family, ["self"])
    (hers,) = bought(family, ["spouse"])
    mine_order = deps.table().get(keys.policy(mine))["order_id"]
    hers_order = deps.table().get(keys.policy(hers))["order_id"]
    cancel = client.http.post(f"/v1/policies/{hers}/cancel", body="{}",
                              headers={**family.headers, "Idempotency-Key": "cancel-hers-0002"})
    assert cancel.status_code in (200, 201), cancel.body
    mine_key = next(k for k, d in platform.deductions.items() if d.reference == mine_order)
    hers_key = next(k for k, d in platform.deductions.items() if d.reference == hers_order)
    # the platform's books drift from ours: an amount, a deduction nobody asked for, a lost deduction, a lost refund
    platform.deductions[mine_key] = platform.deductions[mine_key].model_copy(update={"amount_fen": 1})
    platform.deduct(family.id_number, "current", 500, "someone-elses-key", reference="NOT-OURS")
    [refund_key] = platform.refunds
    del platform.refunds[refund_key], platform._refund_targets[refund_key]
    platform.deductions[hers_key] = platform.deductions[hers_key].model_copy(update={"status": "done"})

    with caplog.at_level("WARNING"):
        first = reconcile(clock, NEXT_MORNING)
    lines = alarmed(caplog)
    caplog.clear()
    with caplog.at_level("WARNING"):
        again = reconcile(clock, NEXT_MORNING)

    found = {d.kind: d for d in differences(ORDER_DAY)}
    assert set(found) == {"amount_differs", "not_ours", "refund_missing"}, found
    assert (found["amount_differs"].ours_fen, found["amount_differs"].platform_fen) != (None, None)
    assert found["amount_differs"].platform_fen == 1 and found["amount_differs"].city == "331100"
    assert found["not_ours"].idempotency_key == "someone-elses-key" and found["not_ours"].city is None
    assert found["refund_missing"].refund_id and found["refund_missing"].order_id == hers_order
    assert (first["differences"], first["new_differences"]) == (3, 3)
    assert (again["differences"], again["new_differences"]) == (3, 0)  # nothing added twice
    assert len(lines) == 3 and alarmed(caplog) == []
    logged = " ".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in lines)
    assert family.id_number not in logged and "王建国" not in logged and "李秀英" not in logged


def test_a_paid_order_the_platform_has_no_deduction_for_is_reported_missing(family, clock):
    (mine,) = bought(family, ["self"])
    order_id = deps.table().get(keys.policy(mine))["order_id"]
    platform = deps.platform()
    key = next(k for k, d in platform.deductions.items() if d.reference == order_id)
    del platform.deductions[key]

    counts = reconcile(clock, NEXT_MORNING)

    [missing] = differences(ORDER_DAY)
    assert (missing.kind, missing.entry_kind, missing.idempotency_key) == ("deduction_missing", "deduction", key)
    assert missing.platform_fen is None and missing.ours_fen > 0 and counts["differences"] == 1


def test_a_request_just_before_midnight_booked_the_next_day_is_no_difference(family, clock):
    clock.set(datetime(2020, 12, 15, 23, 59, 59, tzinfo=CHINA_TZ))
    (mine,) = bought(family, ["self"])
    order_id = deps.table().get(keys.policy(mine))["order_id"]
    platform = deps.platform()
    key = next(k for k, d in platform.deductions.items() if d.reference == order_id)
    platform.deductions[key] = platform.deductions[key].model_copy(
        update={"at": datetime(2020, 12, 16, 0, 0, 1, tzinfo=CHINA_TZ)})

    ours_day = reconcile(clock, datetime(2020, 12, 16, 3, 30, tzinfo=CHINA_TZ))
    their_day = reconcile(clock, datetime(2020, 12, 17, 3, 30, tzinfo=CHINA_TZ))

    assert (ours_day["matched"], ours_day["differences"]) == (1, 0), ours_day
    assert (their_day["statement"], their_day["matched"], their_day["differences"]) == (1, 1, 0), their_day


def test_staff_see_the_days_differences_of_their_city_only(family, client, clock):
    from chalicelib.api.auth import issue_staff_token

    (mine,) = bought(family, ["self"])
    order_id = deps.table().get(keys.policy(mine))["order_id"]
    platform = deps.platform()
    key = next(k for k, d in platform.deductions.items() if d.reference == order_id)
    platform.deductions[key] = platform.deductions[key].model_copy(update={"amount_fen": 1})
    platform.deduct(family.id_number, "current", 500, "someone-elses-key", reference="NOT-OURS")
    reconcile(clock, NEXT_MORNING)

    def listed(role: str, cities: list[str] | None = None, day: str | None = "2020-12-15"):
        token = issue_staff_token(f"staff-{role}", role, cities=cities)
        path = "/v1/admin/reconciliation-differences" + (f"?day={day}" if day else "")
        resp = client.http.get(path, headers={"Authorization": f"Bearer {token}"})
        return resp.status_code, json.loads(resp.body)

    lishui = listed("insurer_admin", ["331100"])
    dengfeng = listed("claims_reviewer", ["410185"])
    bureau = listed("bureau")
    member = client.http.get("/v1/admin/reconciliation-differences?day=2020-12-15", headers=family.headers)

    assert lishui[0] == 200 and {d["kind"] for d in lishui[1]} == {"amount_differs", "not_ours"}
    assert dengfeng[0] == 200 and [d["kind"] for d in dengfeng[1]] == ["not_ours"]
    assert bureau[0] == 200 and len(bureau[1]) == 2
    assert listed("insurer_admin", day=None)[0] == 400 and listed("insurer_admin", day="2020-13-01")[0] == 400
    assert member.status_code == 403
    assert account_id_of(family.headers) not in json.dumps(lishui[1])
