"""Every log line of a request carries its request ids (API Gateway's and Lambda's)."""
import logging


def ids(records) -> list:
    return [getattr(r, "lambda_request_id", None) for r in records if r.name == "huiminbao-api"]


def post_sweep(client):
    return client.http.post("/sandbox/jobs/claim_deadline_sweep", headers={"Content-Type": "application/json"},
                            body="")


def test_a_requests_log_lines_carry_its_lambda_request_id(client, caplog):
    caplog.set_level(logging.INFO)
    resp = post_sweep(client)

    seen = ids(caplog.records)
    assert resp.status_code == 200 and len(seen) >= 2
    assert len(set(seen)) == 1 and None not in seen


def test_two_requests_log_different_ids_and_nothing_leaks_outside_a_request(client, caplog):
    from chalicelib.observability import logger

    caplog.set_level(logging.INFO)
    post_sweep(client)
    first = set(ids(caplog.records))
    caplog.clear()
    post_sweep(client)
    second = set(ids(caplog.records))
    caplog.clear()
    logger().info("outside any request")

    assert len(first) == len(second) == 1 and first != second
    assert ids(caplog.records) == [None]


def test_api_gateways_request_id_is_taken_from_the_request_context():
    from types import SimpleNamespace

    from chalicelib.observability import ids_of

    event = SimpleNamespace(context={"requestId": "apigw-1"}, lambda_context=SimpleNamespace(aws_request_id="lam-1"))
    sqs_event = SimpleNamespace(context=SimpleNamespace(aws_request_id="lam-2"))

    assert ids_of(event) == {"request_id": "apigw-1", "lambda_request_id": "lam-1"}
    assert ids_of(sqs_event) == {"lambda_request_id": "lam-2"}
