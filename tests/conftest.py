"""Shared fixtures. moto is imported before the app so no client escapes the mock (STYLE.md trap)."""
from __future__ import annotations

import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = "cn-north-1"
os.environ["AWS_REGION"] = "cn-north-1"
os.environ["HMB_STAGE"] = "local"
os.environ["HMB_TABLE"] = "huiminbao-test"
os.environ["HMB_BUCKET"] = "huiminbao-documents-test"
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_var, None)

import moto  # noqa: E402  (must precede the app)
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Deterministic property tests: the same examples on every run, and no wall-clock deadline (a loaded CI machine must
# not turn a slow example into a failure).
settings.register_profile("deterministic", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("deterministic")


@pytest.fixture(scope="session")
def _moto_world():
    """One moto world per test process: the table and bucket are created once from the schema module."""
    import boto3

    from chalicelib.adapters import schema
    from tools.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()
    with moto.mock_aws():
        schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
        schema.ensure_bucket(boto3.client("s3", region_name="cn-north-1"), os.environ["HMB_BUCKET"])
        yield


def _empty_world() -> None:
    """Delete every item and object, so each test starts from an empty table and bucket."""
    import boto3

    ddb = boto3.client("dynamodb", region_name="cn-north-1")
    table = os.environ["HMB_TABLE"]
    for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="PK, SK"):
        items = page.get("Items", [])
        for i in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": k}} for k in items[i:i + 25]]})
    s3 = boto3.client("s3", region_name="cn-north-1")
    bucket = os.environ["HMB_BUCKET"]
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                   for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    _empty_job_queues()


def _empty_job_queues() -> None:
    """The fan-out job queues start each test empty: deleted here, created again on first use by
    chalicelib/adapters/job_queue.py (moto, like SQS, allows one PurgeQueue a minute)."""
    import boto3

    from chalicelib.adapters.job_queue import DEAD_LETTER_NAME, QUEUE_NAME

    sqs = boto3.client("sqs", region_name="cn-north-1")
    for name in (QUEUE_NAME, DEAD_LETTER_NAME):
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except sqs.exceptions.QueueDoesNotExist:
            pass


@pytest.fixture()
def aws(_moto_world):
    """A clean moto world (empty table and bucket) and freshly built ports (simulators, sandbox clock)."""
    from chalicelib import deps
    from chalicelib.adapters import job_queue
    from chalicelib.adapters.dynamodb import reset_clients
    from chalicelib.config import reset_settings

    reset_settings()
    reset_clients()
    job_queue.reset_clients()
    deps.reset()
    _empty_world()
    yield
    deps.reset()
    reset_clients()
    job_queue.reset_clients()


@pytest.fixture()
def app(aws):
    from app import app as chalice_app

    return chalice_app


@pytest.fixture()
def client(app):
    from chalice.test import Client

    with Client(app, stage_name="local") as c:
        yield c


@pytest.fixture()
def clock(aws):
    """The sandbox clock, set by tests: clock.set(datetime(...))."""
    from chalicelib import deps

    return deps.clock()
