"""The fan-out runner on the in-memory run records and a list for a queue: the producer/consumer rules without
DynamoDB or SQS (tests/services/test_fanout.py runs the same machinery on moto)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.repositories.job_runs import InMemoryJobRunRepository
from chalicelib.services import fanout
from chalicelib.services.fanout import FanoutPorts, Job

NOW = datetime(2021, 11, 1, 9, 0, tzinfo=CHINA_TZ)


class ListQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.dead: list[str] = []

    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        self.sent.extend(bodies)

    def dead_letter(self, body: str) -> None:
        self.dead.append(body)


class Clock:
    def now(self) -> datetime:
        return NOW


def ports(job: Job) -> FanoutPorts:
    return FanoutPorts(table=None, queue=ListQueue(), clock=Clock(), jobs={job.name: job},
                       runs=InMemoryJobRunRepository(), retry_delay_seconds=lambda attempt: 0)


def test_a_message_delivered_twice_is_counted_once_and_the_run_finishes():
    job = Job("twin_job", enqueue=lambda run: ((f"P{n}", {}) for n in range(5)), handle=lambda item: "renewed",
              items_per_message=2)
    p = ports(job)

    run = fanout.start(p, "twin_job")
    first, *rest = p.queue.sent
    outcomes = [fanout.handle_message(p, first), fanout.handle_message(p, first)]
    outcomes += [fanout.handle_message(p, body) for body in rest]

    assert (run.items, run.messages) == (5, 3)
    assert outcomes == ["done", "duplicate", "done", "done"]
    done = p.runs.get(run.run_id)
    assert (done.status, done.counts, done.messages_done) == ("finished", {"renewed": 5}, 3)


def test_an_item_that_keeps_failing_goes_round_then_to_the_dead_letter_queue():
    def handle(item):
        if item.item_id == "P1":
            raise RuntimeError("platform timeout")
        return "renewed"

    job = Job("twin_failing", enqueue=lambda run: [("P0", {}), ("P1", {})], handle=handle, max_attempts=2)
    p = ports(job)

    run = fanout.start(p, "twin_failing")
    fanout.handle_message(p, p.queue.sent[0])
    fanout.handle_message(p, p.queue.sent[1])  # the retry of P1

    assert len(p.queue.sent) == 2 and len(p.queue.dead) == 1
    done = p.runs.get(run.run_id)
    assert (done.status, done.counts) == ("finished", {"renewed": 1, "failed": 1})


def test_a_stopped_run_acknowledges_its_messages_without_work():
    calls = []
    job = Job("twin_stopped", enqueue=lambda run: [("P0", {})], handle=lambda item: calls.append(item) or "renewed")
    p = ports(job)

    run = fanout.start(p, "twin_stopped")
    fanout.stop(p.runs, run.run_id, NOW)

    assert fanout.handle_message(p, p.queue.sent[0]) == "stopped"
    assert calls == [] and p.runs.get(run.run_id).status == "stopped"
