"""`make run` runs scheduled jobs through its embedded moto SQS queue and the same worker Lambda would run."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_a_job_runs_through_the_local_queue_and_answers_when_drained(api):
    first = api.post("/sandbox/jobs/reconcile_orders")
    again = api.post("/sandbox/jobs/reconcile")  # the alias keeps its own answer

    assert first.status == 200, first.body
    assert first.body["status"] == "finished" and first.body["messages_done"] == first.body["messages"] == 1
    assert set(first.body["counts"]) >= {"issued", "refunded", "still_pending"}
    # orders other tests left unpaid (and not yet expired) stay pending: the second run finds exactly the same ones
    assert again.status == 200 and again.body["still_pending"] == first.body["counts"]["still_pending"]
    runs = api.get("/sandbox/jobs/reconcile_orders/runs")
    assert runs.status == 200 and first.body["run_id"] in [r["run_id"] for r in runs.body]
