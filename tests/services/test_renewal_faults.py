"""Faults that must lose nothing (issue 11, DOMAIN §9.5–9.6): the worker dying between the deduction and the issuing
transaction, a platform timeout, the same queue message delivered twice, a batch half-done when the run is re-started,
and a member stopping renewal while their batch is in flight. Each ends with at most one deduction per mandate on the
platform's statement and a policy for every deduction (`nothing_lost`).

A worker "dies" by a BaseException nothing in the worker catches (the Lambda invocation ends: timeout, out of memory),
so its message is neither deleted nor counted; SQS delivers it again after the queue's visibility timeout
(`REDELIVERY`, six times the worker's timeout in the stack), which the tests play by advancing the clock."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import account_id_of
from tests.orders_support import IN_WINDOW, Family

NOTICE_DAY = datetime(2021, 11, 1, 9, 0, tzinfo=CHINA_TZ)
DEDUCTION_DAY = datetime(2021, 12, 17, 3, 0, tzinfo=CHINA_TZ)
REDELIVERY = timedelta(seconds=1800)  # the job queue's visibility timeout (infra: 6 x the worker's 300 s)
NEXT_PLAN = "lishui-2022"


class WorkerDied(BaseException):
    """The invocation ended here: nothing after this line ran and nothing in the worker caught it."""


@pytest.fixture()
def family(client, clock):
    clock.set(IN_WINDOW)
    fam = Family(client, current_fen=50000, prior_years_fen=100000)
    fam.relative("spouse", "spouse")
    fam.relative("child", "child", born=datetime(2010, 4, 4).date())
    return fam


def noticed(family: Family, clock, insured: list[str]) -> list[str]:
    """Consenting policies for `insured`, noticed; the clock left on the deduction day."""
    from chalicelib import jobs

    status, out = family.order(insured, auto_renew=True)
    assert status == 201, out
    clock.set(NOTICE_DAY)
    assert jobs.run_now("renewal_notices").counts["noticed"] == len(insured)
    clock.set(DEDUCTION_DAY)
    return [p["policy_id"] for p in out["policies"]]


def policy(policy_id: str) -> dict:
    return deps.table().get(keys.policy(policy_id))


def renewal_deductions(family: Family) -> list[dict]:
    return [d for d in family.balances()["deductions"] if d["idempotency_key"].startswith("renewal-")]


def nothing_lost(family: Family, mandates: list[str]) -> dict[str, int]:
    """At most one deduction per mandate, and for every deduction not given back an issued policy of the next plan,
    recorded on the mandate as its renewal. Returns deductions per mandate."""
    orders = deps.order_ports().orders
    per_mandate = dict.fromkeys(mandates, 0)
    refunded = {r["deduction_id"] for r in family.balances()["refunds"]}
    for deduction in renewal_deductions(family):
        order = orders.get(deduction["reference"])
        renews = order.renews_policy_id
        per_mandate[renews] += 1
        if deduction["deduction_id"] in refunded:
            continue
        assert order.status == "paid", order.status
        new = policy(order.policy_ids[0])
        assert (new["status"], new["plan_id"]) == ("active", NEXT_PLAN)
        old = policy(renews)["renewal"]
        assert (old["status"], old["renewed_policy_id"]) == ("renewed", new["policy_id"])
    assert all(n <= 1 for n in per_mandate.values()), per_mandate
    return per_mandate


def start_run():
    """A deductions run enqueued, its messages received (not yet handled) as a Lambda poller would."""
    from chalicelib import jobs
    from chalicelib.services import fanout

    ports = jobs.fanout_ports()
    run = fanout.start(ports, "renewal_deductions")
    return ports, run, ports.queue.receive(10)


def deliver(ports, message) -> str:
    from chalicelib.services import fanout

    return fanout.handle_message(ports, message.body)


def drain() -> None:
    from chalicelib import jobs

    jobs.drain_local()


def dies_after_deducting(monkeypatch, times: int = 1, only: set[str] | None = None):
    """The worker dies right after the platform took the money, before the issuing transaction (`times` times)."""
    platform = deps.platform()
    real = platform.deduct
    left = {"n": times}

    def deduct(id_number, source, amount_fen, idempotency_key, reference):
        done = real(id_number, source, amount_fen, idempotency_key, reference)
        if left["n"] and (only is None or any(p in idempotency_key for p in only)):
            left["n"] -= 1
            raise WorkerDied()
        return done

    monkeypatch.setattr(platform, "deduct", deduct)


# ---- 1. the worker dies between the deduction and the issuing transaction ---------------------------------------
def test_a_redelivery_after_the_worker_died_between_deduction_and_issue_resumes_the_same_order(family, clock,
                                                                                           monkeypatch):
    (mine,) = noticed(family, clock, ["self"])
    ports, run, [message] = start_run()
    dies_after_deducting(monkeypatch)
    with pytest.raises(WorkerDied):
        deliver(ports, message)
    claimed = policy(mine)["renewal"]
    assert claimed["status"] == "noticed" and claimed["deduction_started_at"] and len(renewal_deductions(family)) == 1

    clock.advance(REDELIVERY)
    assert deliver(ports, message) == "done"  # SQS delivers the message again

    old = policy(mine)["renewal"]
    assert old["status"] == "renewed" and old["order_id"] == claimed["order_id"]  # the same order resumed
    assert nothing_lost(family, [mine]) == {mine: 1}
    from chalicelib.services import fanout

    assert fanout.get_run(ports.runs, run.run_id).counts["renewed"] == 1


def test_a_redelivery_while_the_dead_workers_lease_runs_is_not_a_failure_and_the_reconciliation_completes_it(
        family, clock, monkeypatch):
    from chalicelib import jobs

    (mine,) = noticed(family, clock, ["self"])
    ports, run, [message] = start_run()
    dies_after_deducting(monkeypatch)
    with pytest.raises(WorkerDied):
        deliver(ports, message)

    # delivered again at once (before the dead worker's order lease ran out): it cannot tell the first worker died
    assert deliver(ports, message) == "done"
    drain()  # the item's retries, all while the lease holds

    stored = policy(mine)["renewal"]
    assert stored["status"] == "noticed" and "failure_code" not in stored  # never failed with money taken
    assert deps.order_ports().orders.get(stored["order_id"]).status == "settling"

    clock.set(DEDUCTION_DAY + timedelta(days=1, minutes=30))  # the next night's 对账 of the deduction day
    counts = jobs.run_now("platform_reconciliation", params={"day": DEDUCTION_DAY.date().isoformat()}).counts

    assert counts["completed"] == 1, counts
    assert nothing_lost(family, [mine]) == {mine: 1}


def test_a_worker_dying_after_the_claim_and_before_any_deduction_is_resumed_with_one_deduction(family, clock,
                                                                                             monkeypatch):
    (mine,) = noticed(family, clock, ["self"])
    ports, _, [message] = start_run()
    platform = deps.platform()
    real = platform.deduct

    def dies_before_deducting(*args, **kwargs):
        raise WorkerDied()

    monkeypatch.setattr(platform, "deduct", dies_before_deducting)
    with pytest.raises(WorkerDied):
        deliver(ports, message)
    monkeypatch.setattr(platform, "deduct", real)
    assert policy(mine)["renewal"]["deduction_started_at"] and renewal_deductions(family) == []

    clock.advance(REDELIVERY)
    deliver(ports, message)

    assert policy(mine)["renewal"]["status"] == "renewed"
    assert nothing_lost(family, [mine]) == {mine: 1}


# ---- 2. a platform timeout ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["before", "after"])
def test_platform_timeouts_on_every_attempt_leave_the_mandate_in_flight_and_the_re_run_deducts_once(family, clock,
                                                                                                   when):
    from chalicelib import jobs

    (mine,) = noticed(family, clock, ["self"])
    platform = deps.platform()
    for _ in range(3):  # every attempt of the run times out (the deduction made at the first, or never)
        platform.fail_next("deduct", when)

    first = jobs.run_now("renewal_deductions").counts

    assert first.get("renewed", 0) == 0 and first.get(f"failed@{NEXT_PLAN}", 0) == 0, first
    assert policy(mine)["renewal"]["status"] == "noticed"
    assert len(renewal_deductions(family)) == (1 if when == "after" else 0)

    clock.advance(timedelta(hours=1))
    again = jobs.run_now("renewal_deductions").counts  # the item is still in the renewal index: resumed by its key

    assert again["renewed"] == 1, again
    assert nothing_lost(family, [mine]) == {mine: 1}


def test_a_timeout_of_the_issuing_transaction_is_resumed_without_a_second_deduction(family, clock, monkeypatch):
    from chalicelib import jobs
    from chalicelib.adapters.dynamodb import Table, TransientStorageError

    (mine,) = noticed(family, clock, ["self"])
    real = Table.transact
    issuing = {"n": 0}

    def storage_times_out_once(self, ops, *args, **kwargs):
        if any(op.values.get(":to") == "paid" for op in ops):  # the issuing transaction: order settling → paid
            issuing["n"] += 1
            if issuing["n"] == 1:
                raise TransientStorageError("ProvisionedThroughputExceededException")
        return real(self, ops, *args, **kwargs)

    monkeypatch.setattr(Table, "transact", storage_times_out_once)
    counts = jobs.run_now("renewal_deductions").counts

    assert counts["renewed"] == 1 and issuing["n"] == 2, counts
    assert nothing_lost(family, [mine]) == {mine: 1}


# ---- 3. the same queue message delivered twice ----------------------------------------------------------------------
def test_the_same_message_delivered_twice_in_a_row_is_handled_and_counted_once(family, clock):
    from chalicelib.services import fanout

    mine, hers = noticed(family, clock, ["self", "spouse"])
    ports, run, [message] = start_run()

    assert (deliver(ports, message), deliver(ports, message)) == ("done", "duplicate")

    assert fanout.get_run(ports.runs, run.run_id).counts["renewed"] == 2
    assert nothing_lost(family, [mine, hers]) == {mine: 1, hers: 1}


def test_the_same_message_delivered_to_a_second_worker_while_the_first_is_deducting(family, clock, monkeypatch):
    from chalicelib.services import fanout

    (mine,) = noticed(family, clock, ["self"])
    ports, run, [message] = start_run()
    platform = deps.platform()
    real = platform.deduct
    second = []

    def deduct(*args, **kwargs):
        done = real(*args, **kwargs)
        if not second:  # the first worker has the money; SQS hands the same message to another worker meanwhile
            second.append("delivering")
            second[0] = deliver(ports, message)
        return done

    monkeypatch.setattr(platform, "deduct", deduct)
    deliver(ports, message)
    monkeypatch.setattr(platform, "deduct", real)
    drain()  # the second worker's retry of the item it found in flight

    assert second == ["done"]
    counts = fanout.get_run(ports.runs, run.run_id).counts
    # the second delivery found the order held and had the item tried again (never a failure); the run counts the
    # message once — whichever delivery recorded it first
    assert counts.get(f"failed@{NEXT_PLAN}", 0) == 0 and counts.get("failed", 0) == 0, counts
    assert nothing_lost(family, [mine]) == {mine: 1}


# ---- 4. a batch half-done when the run is re-started ----------------------------------------------------------------
def test_a_batch_half_done_when_its_worker_died_is_finished_by_the_re_started_run(family, clock, monkeypatch):
    import json

    from chalicelib import jobs

    noticed(family, clock, ["self", "spouse", "child"])
    ports, _, [message] = start_run()
    mandates = [payload["policy_id"] for _, payload in json.loads(message.body)["items"]]  # in the message's order
    dies_after_deducting(monkeypatch, only={mandates[1]})  # the first renewed, the second deducted, the third not
    with pytest.raises(WorkerDied):
        deliver(ports, message)
    assert [policy(p)["renewal"]["status"] for p in mandates] == ["renewed", "noticed", "noticed"]
    assert len(renewal_deductions(family)) == 2

    clock.advance(REDELIVERY)
    counts = jobs.run_now("renewal_deductions").counts  # re-started: a new run pages what is still due

    assert counts["renewed"] == 2, counts
    assert nothing_lost(family, mandates) == dict.fromkeys(mandates, 1)


def test_a_run_stopped_part_way_and_re_run_renews_each_mandate_once(family, clock, monkeypatch):
    from chalicelib import jobs

    mandates = noticed(family, clock, ["self", "spouse", "child"])
    job = jobs.JOBS["renewal_deductions"]
    monkeypatch.setitem(jobs.JOBS, "renewal_deductions", dataclasses.replace(job, items_per_message=1))

    stopped = jobs.run_now("renewal_deductions", stop_after_messages=1)
    assert stopped.status == "stopped" and stopped.counts["renewed"] == 1
    rerun = jobs.run_now("renewal_deductions").counts
    again = jobs.run_now("renewal_deductions").counts

    assert rerun["renewed"] == 2 and again.get("renewed", 0) == 0
    assert nothing_lost(family, mandates) == dict.fromkeys(mandates, 1)


# ---- 5. a member stopping renewal while their batch is in flight ----------------------------------------------------
def test_a_stop_between_the_deduction_and_the_issue_is_refused_and_the_policy_issued(family, client, clock,
                                                                                    monkeypatch):
    from chalicelib import jobs

    (mine,) = noticed(family, clock, ["self"])
    platform = deps.platform()
    real = platform.deduct
    answers = []

    def stop_after_the_money_moved(*args, **kwargs):
        done = real(*args, **kwargs)
        answers.append(client.http.put(f"/v1/policies/{mine}/auto-renewal", headers=family.headers,
                                       body='{"enabled": false}'))
        return done

    monkeypatch.setattr(platform, "deduct", stop_after_the_money_moved)
    counts = jobs.run_now("renewal_deductions").counts

    assert [a.status_code for a in answers] == [422] and b"RENEWAL_ALREADY_DEDUCTED" in answers[0].body
    assert counts["renewed"] == 1
    assert nothing_lost(family, [mine]) == {mine: 1}
    assert policy(mine)["auto_renew"] is True  # the stop changed nothing: cancel the renewed policy instead


def test_a_stop_while_the_mandate_is_stuck_in_flight_is_refused_and_the_re_run_completes_it(family, client, clock):
    from chalicelib import jobs

    (mine,) = noticed(family, clock, ["self"])
    for _ in range(3):
        deps.platform().fail_next("deduct", "before")
    jobs.run_now("renewal_deductions")  # claimed, every attempt timed out: nothing taken yet, the order settling

    stop = client.http.put(f"/v1/policies/{mine}/auto-renewal", headers=family.headers, body='{"enabled": false}')
    counter = client.http.put(f"/v1/admin/policies/{mine}/auto-renewal", headers=_staff("bureau"),
                              body='{"enabled": false, "channel": "counter", "note": "窗口申请停止"}')

    assert (stop.status_code, counter.status_code) == (422, 422)
    clock.advance(timedelta(hours=1))
    assert jobs.run_now("renewal_deductions").counts["renewed"] == 1
    assert nothing_lost(family, [mine]) == {mine: 1}
    told = [n for n in deps.notifications().sent(account_id_of(family.headers)) if n.template == "renewal_failed"]
    assert told == []


def _staff(role: str) -> dict[str, str]:
    from tests.claim_helpers import staff

    return staff(role)
