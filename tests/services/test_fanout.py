"""The fan-out job runner on moto's DynamoDB and SQS: every item reaches its handler, counts are added once per
message however often SQS delivers it, failures go round again and then to the dead-letter queue, a run can be
stopped and re-run."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from chalicelib.services import fanout
from chalicelib.services.fanout import Job, WorkItem


class Ledger:
    """A job's own idempotency, as a real job keeps it (a condition on the item id): effects happen once."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.fail = dict(fail or {})  # item id -> how many deliveries raise before it succeeds

    def handle(self, item: WorkItem):
        self.calls[item.item_id] += 1
        if self.fail.get(item.item_id, 0) > 0:
            self.fail[item.item_id] -= 1
            raise RuntimeError("platform timeout")
        if self.effects[item.item_id]:
            return "skipped"
        self.effects[item.item_id] += 1
        return "renewed"


@pytest.fixture()
def ledger():
    return Ledger()


@pytest.fixture()
def register(aws):
    from chalicelib import jobs

    added = []

    def add(name: str, ledger: Ledger, items: int, per_message: int = 3, max_attempts: int = 3) -> Job:
        job = Job(name, enqueue=lambda run: ((f"P{i:04d}", {"n": i}) for i in range(items)), handle=ledger.handle,
                  items_per_message=per_message, max_attempts=max_attempts)
        added.append(name)
        return jobs.register(job)

    yield add
    for name in added:
        jobs.unregister(name)


def ports():
    from chalicelib import jobs

    return jobs.fanout_ports()


def test_every_item_is_handled_once_and_the_run_record_counts_them(register, ledger):
    from chalicelib import jobs

    register("test_renewal", ledger, items=10, per_message=3)

    run = jobs.run_now("test_renewal")

    assert run.status == "finished" and run.finished_at is not None
    assert (run.items, run.messages, run.messages_done) == (10, 4, 4)
    assert run.counts == {"renewed": 10}
    assert set(ledger.calls.values()) == {1} and len(ledger.calls) == 10


def test_an_item_that_fails_goes_round_again_in_its_own_message(register):
    from chalicelib import jobs

    flaky = Ledger(fail={"P0004": 2})
    register("test_flaky", flaky, items=6, per_message=3)

    run = jobs.run_now("test_flaky")

    assert run.status == "finished"
    assert run.counts == {"renewed": 6}
    assert flaky.calls["P0004"] == 3 and flaky.calls["P0003"] == 1  # only the failed item was sent again
    assert run.messages == 2 + 2  # two retry messages of one item each


def test_an_item_failing_every_attempt_is_parked_in_the_dead_letter_queue_and_counted(register):
    from chalicelib import deps, jobs

    broken = Ledger(fail={"P0001": 99})
    register("test_broken", broken, items=3, per_message=3, max_attempts=2)

    run = jobs.run_now("test_broken")

    assert run.status == "finished"
    assert run.counts == {"renewed": 2, "failed": 1}
    assert broken.calls["P0001"] == 2
    parked = [json.loads(b) for b in deps.job_queue().dead_letters()]
    assert [(p["run_id"], [i for i, _ in p["items"]]) for p in parked] == [(run.run_id, ["P0001"])]


def test_a_message_delivered_twice_is_counted_once(register, ledger):
    from chalicelib.adapters.job_queue import QUEUE_NAME

    register("test_twice", ledger, items=2, per_message=2)
    p = ports()
    run = fanout.start(p, "test_twice")
    [message] = p.queue.receive(10)
    assert QUEUE_NAME in p.queue.url

    first = fanout.handle_message(p, message.body)
    second = fanout.handle_message(p, message.body)

    assert (first, second) == ("done", "duplicate")
    after = fanout.get_run(p.runs, run.run_id)
    assert after.counts == {"renewed": 2} and after.messages_done == 1 and after.status == "finished"


def test_only_the_message_that_could_not_be_handled_is_reported_for_redelivery(register, ledger):
    register("test_partial", ledger, items=2, per_message=1)
    p = ports()
    fanout.start(p, "test_partial")
    good, other = p.queue.receive(10)
    broken = {**json.loads(other.body), "job": "no_such_job"}

    result = fanout.handle_event(p, {"Records": [good.as_lambda_record(),
                                                 {**other.as_lambda_record(), "body": json.dumps(broken)}]})

    assert result == {"batchItemFailures": [{"itemIdentifier": other.message_id}]}


def test_a_message_whose_counts_could_not_be_written_is_delivered_again_and_counted_once(register, ledger,
                                                                                        monkeypatch):
    from chalicelib import jobs
    from chalicelib.adapters.dynamodb import Table, TransientStorageError

    register("test_storage_blip", ledger, items=4, per_message=2)
    real_transact, blips = Table.transact, [1]

    def transact_failing_once(self, ops):
        if blips:
            blips.pop()
            raise TransientStorageError("ProvisionedThroughputExceededException")
        return real_transact(self, ops)

    monkeypatch.setattr(Table, "transact", transact_failing_once)

    run = jobs.run_now("test_storage_blip")

    assert run.status == "finished" and run.messages_done == 2
    assert run.counts == {"renewed": 2, "skipped": 2}  # the second delivery found its items done already
    assert sum(ledger.effects.values()) == 4 and max(ledger.effects.values()) == 1
    assert sum(ledger.calls.values()) == 6  # the redelivered message's two items reached the handler again


def test_a_stopped_run_leaves_its_queued_messages_undone_and_a_re_run_finishes_the_job(register, ledger):
    from chalicelib import jobs

    register("test_stop", ledger, items=30, per_message=3)

    stopped = jobs.run_now("test_stop", stop_after_messages=3)
    rerun = jobs.run_now("test_stop")

    assert stopped.status == "stopped" and 0 < stopped.messages_done < stopped.messages
    assert stopped.counts["renewed"] == 3 * stopped.messages_done
    assert rerun.status == "finished"
    assert rerun.counts == {"renewed": 30 - stopped.counts["renewed"], "skipped": stopped.counts["renewed"]}
    assert set(ledger.effects.values()) == {1} and len(ledger.effects) == 30


def test_a_job_with_nothing_to_do_finishes_at_once(register, ledger):
    from chalicelib import jobs

    register("test_empty", ledger, items=0)

    run = jobs.run_now("test_empty")

    assert run.status == "finished" and (run.items, run.messages, run.counts) == (0, 0, {})


def test_runs_of_a_job_are_listed_newest_first(register, ledger, clock):
    from datetime import datetime, timedelta

    from chalicelib import jobs
    from chalicelib.adapters.clock import CHINA_TZ

    register("test_listed", ledger, items=1)
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=CHINA_TZ))
    first = jobs.run_now("test_listed")
    clock.advance(timedelta(minutes=10))
    second = jobs.run_now("test_listed")

    listed = fanout.list_runs(ports().runs, "test_listed")

    assert [r.run_id for r in listed] == [second.run_id, first.run_id]
    assert listed[1].started_at == "2026-12-01T09:00:00+08:00"


def test_an_alias_runs_the_job_it_names(aws):
    from chalicelib import jobs

    assert fanout.resolve(jobs.JOBS, "reconcile").name == "reconcile_orders"
    with pytest.raises(fanout.UnknownJob):
        fanout.resolve(jobs.JOBS, "nothing")


def test_a_jobs_prepare_reads_once_per_message_for_all_its_items_and_a_failure_redelivers_the_message(aws):
    from chalicelib import jobs

    prepared, seen, broken = [], [], {"left": 1}

    def prepare(items: list[WorkItem]):
        if broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("storage unavailable")  # the whole message fails: SQS delivers it again
        prepared.append([i.item_id for i in items])
        return {i.item_id: i.payload["n"] * 10 for i in items}

    def handle(item: WorkItem):
        seen.append((item.item_id, item.prepared[item.item_id]))
        return "done"

    job = Job("test_prepared", enqueue=lambda run: ((f"P{i:04d}", {"n": i}) for i in range(5)), handle=handle,
              items_per_message=3, prepare=prepare)
    jobs.register(job)
    try:
        run = jobs.run_now("test_prepared")
    finally:
        jobs.unregister("test_prepared")

    assert sorted(prepared) == [["P0000", "P0001", "P0002"], ["P0003", "P0004"]]
    assert sorted(seen) == [(f"P{i:04d}", i * 10) for i in range(5)]
    assert run.counts == {"done": 5} and run.status == "finished"
