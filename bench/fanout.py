"""The fan-out job runner (chalicelib/services/fanout.py) end to end on moto, in this process: a run of trivial items
(the handler returns at once, so what is measured is the runner: paging, SQS, the run record) at two sizes ten
times apart, as `POST /sandbox/jobs/{job}` runs it — enqueue, then drain through the SQS worker.

- cost per item at each size, and their ratio (goal ≤ 1.2: flat, nothing grows with the run; the small size is run
  before and after the large one and averaged, as the shared machine's load drifts);
- SQS and DynamoDB requests per message of ITEMS_PER_MESSAGE items (what a million items cost, docs/deploy.md);
- moto's own SQS cost against queue depth (one SendMessage and one ReceiveMessage with 200 and with 1 000 messages
  queued): why runs put a few hundred items in each message, and why the local stage drains while enqueueing.
"""
from __future__ import annotations

import os
import statistics
import time
from collections import Counter

SIZES = (int(os.environ.get("BENCH_FANOUT_SMALL", "5000")), int(os.environ.get("BENCH_FANOUT_LARGE", "50000")))
DEPTHS = (200, 1000)  # filling 3 000 takes minutes: each send walks the queue
JOB = "bench_trivial"


def _trivial_job(size: int):
    from chalicelib.services.fanout import Job

    return Job(JOB, enqueue=lambda run: ((f"I{i:07d}", None) for i in range(size)), handle=lambda item: "done")


def _count_calls(client, calls: Counter, service: str):
    """Count the client's requests into `calls`; returns the function that stops counting."""
    def count(model, **_):
        calls.update([f"{service}:{model.name}"])

    client.meta.events.register(f"before-call.{service}.*", count)
    return lambda: client.meta.events.unregister(f"before-call.{service}.*", count)


def _run(size: int) -> tuple[float, Counter, int]:
    """(seconds for the run, requests by service:operation, messages)"""
    from chalicelib import deps, jobs

    jobs.register(_trivial_job(size))
    try:
        calls: Counter = Counter()
        stops = [_count_calls(deps.table().client, calls, "dynamodb"), _count_calls(deps.job_queue().client, calls, "sqs")]
        started = time.perf_counter()
        run = jobs.run_now(JOB)
        elapsed = time.perf_counter() - started
        for stop in stops:
            stop()
        if run.status != "finished" or run.counts != {"done": size}:
            raise RuntimeError(f"run did not finish cleanly: {run}")
        return elapsed, calls, run.messages
    finally:
        jobs.unregister(JOB)


def _sqs_depth_ms(client, depth: int) -> tuple[float, float]:
    """Median ms of one SendMessage and one ReceiveMessage on a queue holding `depth` messages."""
    url = client.create_queue(QueueName=f"bench-depth-{depth}")["QueueUrl"]
    for _ in range(0, depth, 10):
        client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])
    sends, receives = [], []
    for _ in range(7):
        started = time.perf_counter()
        client.send_message(QueueUrl=url, MessageBody="x")
        sends.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0, VisibilityTimeout=0)
        receives.append((time.perf_counter() - started) * 1000)
    client.delete_queue(QueueUrl=url)
    return statistics.median(sends), statistics.median(receives)


def measure() -> dict:
    from bench.engine import _Env

    with _Env():
        for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
            os.environ.pop(name, None)
        import boto3
        import moto

        from tools.moto_atomic import make_dynamodb_atomic

        make_dynamodb_atomic()
        with moto.mock_aws():
            from chalicelib import deps
            from chalicelib.adapters import job_queue, schema
            from chalicelib.adapters.dynamodb import reset_clients
            from chalicelib.config import reset_settings

            reset_settings(), reset_clients(), job_queue.reset_clients(), deps.reset()
            schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
            _run(200)  # warm-up: clients, queues, code paths
            # small, large, small: the machine's load drifts (other work shares it); the small size's figure is the
            # mean of the runs either side of the large one
            small, large = SIZES
            before, big, after = _run(small), _run(large), _run(small)
            runs = {small: ((before[0] + after[0]) / 2, before[1], before[2]), large: big}
            depth = {d: _sqs_depth_ms(boto3.client("sqs", region_name="cn-north-1"), d) for d in DEPTHS}
            deps.reset(), reset_clients(), job_queue.reset_clients(), reset_settings()
    return {"runs": runs, "depth": depth}


def run() -> dict[str, str]:
    from chalicelib.services.fanout import ITEMS_PER_MESSAGE

    measured = measure()
    rows: dict[str, str] = {}
    per_item = {}
    for size, (seconds, _, _) in measured["runs"].items():
        per_item[size] = seconds / size * 1e6
        rows[f"run of {size:,} trivial items: wall time, per item"] = f"{seconds:.1f} s, {per_item[size]:.0f} µs"
    small, large = SIZES
    rows[f"cost per item ratio {large:,} / {small:,} items (goal ≤ 1.2)"] = f"{per_item[large] / per_item[small]:.2f}"
    seconds, calls, messages = measured["runs"][large]
    sqs = sum(n for k, n in calls.items() if k.startswith("sqs:"))
    ddb = sum(n for k, n in calls.items() if k.startswith("dynamodb:"))
    rows[f"requests per message of {ITEMS_PER_MESSAGE} items (SQS, DynamoDB)"] = (
        f"{sqs / messages:.2f}, {ddb / messages:.2f} ("
        + ", ".join(f"{k.split(':')[1]} {n / messages:.2f}" for k, n in sorted(calls.items())) + ")")
    for d, (send, receive) in measured["depth"].items():
        rows[f"moto SQS at {d:,} queued messages: one send, one receive"] = f"{send:.1f} ms, {receive:.1f} ms"
    return rows


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric}: {value}")
