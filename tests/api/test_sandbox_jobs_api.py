"""POST /sandbox/jobs/{job}: a registered job runs through the local queue and answers when it is drained."""
import json


def post(client, path, body=""):
    resp = client.http.post(path, headers={"Content-Type": "application/json"}, body=body)
    return resp.status_code, json.loads(resp.body)


def test_reconciliation_runs_through_the_queue_and_answers_its_counts(client):
    status, body = post(client, "/sandbox/jobs/reconcile_orders")

    assert status == 200
    assert body["job"] == "reconcile_orders" and body["run_id"].startswith("R") and body["status"] == "finished"
    assert body["counts"]["still_pending"] == 0 and body["messages_done"] == body["messages"] == 1


def test_the_reconcile_alias_keeps_its_own_answer(client):
    status, body = post(client, "/sandbox/jobs/reconcile")

    assert status == 200 and body == {"issued": 0, "failed": 0, "refunded": 0, "refunds_sent": 0, "still_pending": 0,
                                   "expired": 0}


def test_the_claim_deadline_sweep_runs_as_a_job(client):
    status, body = post(client, "/sandbox/jobs/claim_deadline_sweep")

    assert status == 200 and body["job"] == "claim_deadline_sweep" and body["counts"] == {"overdue": 0}


def test_runs_are_listed_newest_first(client, clock):
    from datetime import datetime, timedelta

    from chalicelib.adapters.clock import CHINA_TZ

    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=CHINA_TZ))
    first = post(client, "/sandbox/jobs/claim_deadline_sweep")[1]
    clock.advance(timedelta(seconds=1))
    second = post(client, "/sandbox/jobs/claim_deadline_sweep")[1]

    resp = client.http.get("/sandbox/jobs/claim_deadline_sweep/runs")

    assert resp.status_code == 200
    assert [r["run_id"] for r in json.loads(resp.body)][:2] == [second["run_id"], first["run_id"]]


def test_an_unknown_job_is_404_naming_it(client):
    status, body = post(client, "/sandbox/jobs/renewal_everything")

    assert status == 404 and body["code"] == "SANDBOX_JOB_NOT_FOUND"


def test_an_unknown_field_is_refused(client):
    status, body = post(client, "/sandbox/jobs/reconcile_orders", json.dumps({"stop_after": 1}))

    assert status == 400
