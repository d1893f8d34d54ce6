"""The auto-renewal run (DOMAIN §9) over moto, the simulated platform and the recording notifier: consenting members
are noticed once, then renewed with ONE deduction of the next plan's premium and a new policy; a stop, a failure and a
re-run change nothing twice. Time is the sandbox clock; the jobs run through the real fan-out (jobs.run_now)."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.domain.renewal import deduction_key
from tests.helpers import account_id_of
from tests.orders_support import IN_WINDOW, Family

NOTICE_DAY = datetime(2021, 11, 1, 9, 0, tzinfo=CHINA_TZ)
DEDUCTION_DAY = datetime(2021, 12, 17, 3, 0, tzinfo=CHINA_TZ)
PREMIUM_2022 = 10700


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    fam = Family(client, current_fen=50000, prior_years_fen=100000)
    fam.relative("spouse", "spouse")
    return fam


def consenting(family: Family, insured: list[str]) -> list[str]:
    status, out = family.order(insured, auto_renew=True)
    assert status == 201, out
    return [p["policy_id"] for p in out["policies"]]


def run(job: str) -> dict[str, int]:
    from chalicelib import jobs

    return dict(jobs.run_now(job).counts)


def policy(policy_id: str) -> dict:
    return deps.table().get(keys.policy(policy_id))


def renewal_deductions(family: Family, label: str = "self") -> list[dict]:
    return [d for d in family.balances(label)["deductions"] if d["idempotency_key"].startswith("renewal-")]


def test_a_consenting_member_is_noticed_once_then_renewed_with_one_deduction(family, clock):
    (mine,) = consenting(family, ["self"])
    me = account_id_of(family.headers)

    clock.set(NOTICE_DAY)
    first, again = run("renewal_notices"), run("renewal_notices")

    assert (first["noticed"], again.get("noticed", 0), again["skipped"]) == (1, 0, 1)
    assert policy(mine)["renewal"]["status"] == "noticed"
    sent = [n for n in deps.notifications().sent(me) if n.template == "renewal_notice"]
    assert len(sent) == 1 and "107.00" in sent[0].data["text"] and "2021年12月17日" in sent[0].data["text"]
    assert len(deps.platform().notices) == 1  # the platform's own 代扣代缴确认信息, once

    clock.set(DEDUCTION_DAY)
    balance_before = family.balances()["account_current_fen"]
    renewed, rerun = run("renewal_deductions"), run("renewal_deductions")

    assert (renewed["renewed"], renewed["failed"]) == (1, 0)
    assert rerun.get("renewed", 0) == 0  # renewed mandates leave the renewal index: the re-run has nothing to do
    [deduction] = renewal_deductions(family)
    assert deduction["idempotency_key"] == deduction_key(mine, "lishui-2022")
    assert deduction["amount_fen"] == PREMIUM_2022
    assert family.balances()["account_current_fen"] == balance_before - PREMIUM_2022
    old = policy(mine)
    assert old["renewal"]["status"] == "renewed" and "GSI4PK" not in old
    new = policy(old["renewal"]["renewed_policy_id"])
    assert (new["plan_id"], new["waiting_rule"], new["benefit_start"], new["auto_renew"]) == (
        "lishui-2022", "renewal", "2022-01-01", True)
    assert new["GSI4PK"].startswith("RENEWAL#lishui-2022#")  # consent inherited: it renews again next year
    marker = deps.table().get(keys.cover_marker("lishui-2022", old["insured_hash"]))
    assert marker["state"] == "issued" and marker["policy_id"] == new["policy_id"]
    assert [e["event"] for e in old["renewal_history"]] == ["consent", "notice", "renew"]


def test_a_member_who_stopped_after_the_notice_is_not_debited(family, client, clock):
    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    resp = client.http.put(f"/v1/policies/{mine}/auto-renewal", headers=family.headers, body='{"enabled": false}')
    assert resp.status_code == 200

    clock.set(DEDUCTION_DAY)
    counts = run("renewal_deductions")

    assert counts.get("renewed", 0) == 0 and renewal_deductions(family) == []
    assert [e["event"] for e in policy(mine)["renewal_history"]] == ["consent", "notice", "stop"]


def test_too_little_balance_fails_with_the_reason_no_deduction_and_a_notice_to_the_payer(client, clock):
    clock.set(IN_WINDOW)
    family = Family(client, current_fen=15900 + 100)  # enough for 2021, not for 2022's 107 yuan afterwards
    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")

    clock.set(DEDUCTION_DAY)
    first, again = run("renewal_deductions"), run("renewal_deductions")

    assert (first["failed"], first["renewed"]) == (1, 0) and again.get("failed", 0) == 0
    assert renewal_deductions(family) == []
    stored = policy(mine)
    assert stored["renewal"]["status"] == "failed" and stored["renewal"]["failure_code"] == "INSUFFICIENT_BALANCE"
    assert "GSI4PK" not in stored
    told = [n for n in deps.notifications().sent(account_id_of(family.headers)) if n.template == "renewal_failed"]
    assert len(told) == 1 and told[0].data["code"] == "INSUFFICIENT_BALANCE"


def test_consent_after_the_notices_went_out_is_not_debited_this_year(family, client, clock):
    status, out = family.order(["self"])
    assert status == 201
    clock.set(datetime(2021, 12, 12, 10, 0, tzinfo=CHINA_TZ))  # 5 days before the deduction: too late a notice
    mine = out["policies"][0]["policy_id"]
    assert client.http.put(f"/v1/policies/{mine}/auto-renewal", headers=family.headers,
                           body='{"enabled": true}').status_code == 200
    assert run("renewal_notices").get("noticed", 0) == 0

    clock.set(DEDUCTION_DAY)
    counts = run("renewal_deductions")

    assert counts["failed"] == 1 and renewal_deductions(family) == []
    assert policy(mine)["renewal"]["failure_code"] == "RENEWAL_NOTICE_TOO_LATE"


def test_a_payer_renews_a_spouse_from_prior_years_balance(family, clock):
    (hers,) = consenting(family, ["spouse"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    prior_before = family.balances()["account_prior_years_fen"]

    assert run("renewal_deductions")["renewed"] == 1

    [deduction] = renewal_deductions(family)
    assert deduction["source"] == "prior_years" and deduction["amount_fen"] == PREMIUM_2022
    assert family.balances()["account_prior_years_fen"] == prior_before - PREMIUM_2022
    new = policy(policy(hers)["renewal"]["renewed_policy_id"])
    assert new["insured_hash"] == policy(hers)["insured_hash"] and new["account_source"] == "prior_years"


def test_a_worker_dying_after_the_deduction_is_finished_by_the_re_run_without_a_second_one(family, clock,
                                                                                             monkeypatch):
    from datetime import timedelta

    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    platform = deps.platform()
    real = platform.deduct

    def dies_after_paying(*args, **kwargs):
        real(*args, **kwargs)  # the money moved ...
        raise RuntimeError("worker died before the issuing transaction")  # ... and nothing after it ran

    monkeypatch.setattr(platform, "deduct", dies_after_paying)
    died = run("renewal_deductions")  # every attempt dies (the first leaves the order leased) → dead-letter queue
    monkeypatch.setattr(platform, "deduct", real)
    assert died.get("renewed", 0) == 0 and died["failed"] == 1 and policy(mine)["renewal"]["status"] == "noticed"
    assert died.get("failed@lishui-2022", 0) == 0  # in flight, never a renewal failure

    clock.advance(timedelta(minutes=5))  # the order's lease ran out
    counts = run("renewal_deductions")

    assert counts.get("renewed") == 1, counts
    assert len(renewal_deductions(family)) == 1
    old = policy(mine)
    assert old["renewal"]["status"] == "renewed"
    assert policy(old["renewal"]["renewed_policy_id"])["plan_id"] == "lishui-2022"


def test_a_stop_arriving_while_the_batch_is_in_flight_wins_before_the_claim_and_is_refused_after(family, client,
                                                                                              clock, monkeypatch):
    from chalicelib.services import renewals

    mine, hers = consenting(family, ["self", "spouse"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    real = renewals._renewal_order
    answers = {}

    def stop_meanwhile(policy_item, payer, next_plan, now, order_id=None):
        # the member's stop lands between the worker's checks and its claim on the policy
        answers[policy_item.policy_id] = client.http.put(
            f"/v1/policies/{policy_item.policy_id}/auto-renewal", headers=family.headers,
            body='{"enabled": false}').status_code
        return real(policy_item, payer, next_plan, now, order_id=order_id)

    monkeypatch.setattr(renewals, "_renewal_order", stop_meanwhile)
    counts = run("renewal_deductions")

    assert answers == {mine: 200, hers: 200}
    # the payer's account carries both mandates (current for himself, 历年结余 for his wife): nothing taken
    assert counts.get("renewed", 0) == 0 and counts["skipped"] == 2 and renewal_deductions(family) == []
    assert policy(mine)["auto_renew"] is False


def test_a_stop_after_the_claim_is_refused_and_the_renewal_completes(family, client, clock, monkeypatch):
    from chalicelib.services import renewals

    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    real = renewals._pay_reserved
    answers = []

    def stop_after_claim(ports, policy_item, order, now):
        answers.append(client.http.put(f"/v1/policies/{mine}/auto-renewal", headers=family.headers,
                                       body='{"enabled": false}'))
        return real(ports, policy_item, order, now)

    monkeypatch.setattr(renewals, "_pay_reserved", stop_after_claim)
    counts = run("renewal_deductions")

    assert [a.status_code for a in answers] == [422]
    assert '"RENEWAL_ALREADY_DEDUCTED"' in answers[0].body.decode()
    assert counts["renewed"] == 1 and len(renewal_deductions(family)) == 1


def test_a_stop_replied_on_the_platforms_channel_is_honoured_once(family, clock):
    from chalicelib.services.renewals import notice_key

    mine, hers = consenting(family, ["self", "spouse"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    deps.platform().reply_to_notice(notice_key(hers, "lishui-2022"), "stop")  # the wife, in the 医保 app

    clock.set(DEDUCTION_DAY)
    counts, again = run("renewal_deductions"), run("renewal_deductions")

    assert counts["renewed"] == 1 and again.get("renewed", 0) == 0
    [deduction] = renewal_deductions(family)
    assert deduction["idempotency_key"] == deduction_key(mine, "lishui-2022")
    stored = policy(hers)
    assert stored["auto_renew"] is False and stored["auto_renew_withdrawal"]["channel"] == "platform"
    assert [e["event"] for e in stored["renewal_history"]] == ["consent", "notice", "stop"]


def test_someone_else_covering_the_insured_for_the_next_plan_fails_the_renewal_without_a_deduction(family, clock):
    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    deps.table().put({**keys.cover_marker("lishui-2022", policy(mine)["insured_hash"]), "state": "issued",
                      "policy_id": "POLBYSOMEONEELSE", "order_id": "ORDELSEWHERE"})

    clock.set(DEDUCTION_DAY)
    counts = run("renewal_deductions")

    assert counts["failed"] == 1 and renewal_deductions(family) == []
    assert policy(mine)["renewal"]["failure_code"] == "ALREADY_COVERED"


def test_terminated_basic_insurance_is_never_debited(family, clock):
    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    platform = deps.platform()
    person = platform.people[family.id_number]
    platform.people[family.id_number] = person.model_copy(update={"status": "terminated"})

    clock.set(DEDUCTION_DAY)
    counts = run("renewal_deductions")

    assert counts["failed"] == 1 and renewal_deductions(family) == []
    assert policy(mine)["renewal"]["failure_code"] == "BASIC_INSURANCE_ENDED"


def test_the_renewed_policy_can_be_cancelled_with_a_full_refund_before_its_cover_starts(family, client, clock):
    import json

    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    run("renewal_deductions")
    renewed = policy(mine)["renewal"]["renewed_policy_id"]
    after_deduction = family.balances()["account_current_fen"]

    resp = client.http.post(f"/v1/policies/{renewed}/cancel", headers={**family.headers, "Idempotency-Key": "cancel-renewed-0001"},
                            body="{}")

    assert resp.status_code in (200, 201), resp.body
    assert policy(renewed)["status"] == "cancelled"
    assert family.balances()["account_current_fen"] == after_deduction + PREMIUM_2022
    shown = json.loads(client.http.get(f"/v1/policies/{mine}", headers=family.headers).body)["renewal"]
    assert shown["status"] == "renewed" and shown["renewed_policy_id"] == renewed


def test_the_run_report_counts_outcomes_and_failure_reasons_per_plan_for_bureau_and_insurer(client, clock):
    import json

    from tests.claim_helpers import staff

    clock.set(IN_WINDOW)
    rich = Family(client, phone="13800000011", current_fen=50000)
    poor = Family(client, phone="13800000012", current_fen=15900 + 100, name="赵丽")
    consenting(rich, ["self"])
    consenting(poor, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    run("renewal_deductions")

    resp = client.http.get("/v1/admin/renewal-runs?plan_id=lishui-2022", headers=staff("bureau"))
    refused = client.http.get("/v1/admin/renewal-runs?plan_id=lishui-2022", headers=staff("claims_reviewer"))
    missing = client.http.get("/v1/admin/renewal-runs", headers=staff("insurer_admin"))

    assert resp.status_code == 200, resp.body
    runs = json.loads(resp.body)
    assert [r["job"] for r in runs] == ["renewal_deductions", "renewal_notices"]
    deductions, notices = runs
    assert deductions["counts"] == {"renewed": 1, "failed": 1} and deductions["failures"] == {
        "INSUFFICIENT_BALANCE": 1}
    assert notices["counts"] == {"noticed": 2} and notices["failures"] == {}
    assert deductions["finished_at"] is not None
    assert refused.status_code == 403 and missing.status_code == 400


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_platform_timeout_on_the_deduction_is_resolved_by_its_key_never_a_second_one(family, clock, when):
    (mine,) = consenting(family, ["self"])
    clock.set(NOTICE_DAY)
    run("renewal_notices")
    clock.set(DEDUCTION_DAY)
    deps.platform().fail_next("deduct", when)  # the deduction happened (after) or not (before): we cannot tell

    counts = run("renewal_deductions")  # the item is retried in the same run; the order resumes by its key

    assert counts["renewed"] == 1, counts
    assert len(renewal_deductions(family)) == 1
    assert policy(mine)["renewal"]["status"] == "renewed"


def take_over_by_a_subsidised_list(client, family: Family) -> None:
    """A county's 低保 list for lishui-2021 names the payer, who had paid for himself: the government takes the
    premium over and refunds him (DOMAIN §10.4)."""
    import json
    import uuid

    from tests.claim_helpers import staff

    body = {"plan_id": "lishui-2021", "funding": "subsidy", "programme": "2021 年度困难群众参保资助",
            "payer": {"name": "丽水市莲都区人民政府", "county": "331102"},
            "rows": [{"name": "王建国", "id_number": family.id_number, "group": "低保"}]}
    headers = {**staff("bureau"), "Idempotency-Key": uuid.uuid4().hex}
    resp = client.http.post("/v1/admin/bulk-enrolments", headers=headers, body=json.dumps(body))
    assert resp.status_code == 202, resp.body
    assert client.http.post("/sandbox/jobs-queue/drain", headers=staff("bureau"), body="{}").status_code == 200


@pytest.mark.parametrize("taken_over", ["before the notice", "after the notice"])
def test_a_policy_whose_premium_the_government_took_over_never_renews_from_the_members_account(client, clock,
                                                                                              taken_over):
    import json

    from tests.claim_helpers import staff

    clock.set(IN_WINDOW)
    family = Family(client, current_fen=50000, special_groups=["低保"])
    (mine,) = consenting(family, ["self"])
    me = account_id_of(family.headers)
    if taken_over == "before the notice":
        take_over_by_a_subsidised_list(client, family)
    clock.set(NOTICE_DAY)
    notices = run("renewal_notices")
    if taken_over == "after the notice":
        assert notices["noticed"] == 1
        take_over_by_a_subsidised_list(client, family)
    else:
        assert notices.get("noticed", 0) == 0 and notices["skip:PREMIUM_TAKEN_OVER@lishui-2022"] == 1, notices
        assert deps.platform().notices == {}  # no notice of a deduction that will not happen
    assert policy(mine)["taken_over"] is not None

    clock.set(DEDUCTION_DAY)
    deductions, again = run("renewal_deductions"), run("renewal_deductions")

    assert deductions.get("renewed", 0) == 0 and again.get("skipped", 0) == 0  # out of the renewal index
    assert renewal_deductions(family) == []
    stored = policy(mine)
    assert stored["auto_renew"] is False and "GSI4PK" not in stored
    assert stored["auto_renew_withdrawal"] == {"at": stored["auto_renew_withdrawal"]["at"], "channel": "system",
                                               "account_id": "system", "note": "PREMIUM_TAKEN_OVER"}
    assert [e["event"] for e in stored["renewal_history"]][-1] == "stop"
    told = [n for n in deps.notifications().sent(me) if n.template == "renewal_ended"]
    assert len(told) == 1 and "政府参保资助" in told[0].data["text"]
    shown = json.loads(client.http.get(f"/v1/policies/{mine}", headers=family.headers).body)["renewal"]
    assert shown["status"] == "stopped" and shown["history"][-1]["by"] == "system"
    runs = json.loads(client.http.get("/v1/admin/renewal-runs?plan_id=lishui-2022", headers=staff("bureau")).body)
    ended_in = "renewal_notices" if taken_over == "before the notice" else "renewal_deductions"
    assert [r["skipped"] for r in runs if r["job"] == ended_in][0] == {"PREMIUM_TAKEN_OVER": 1}
