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


@pytest.fixture()
def aws():
    """A fresh moto world with the table and bucket created from the schema module."""
    import boto3

    from chalicelib import deps
    from chalicelib.adapters import schema
    from chalicelib.adapters.dynamodb import reset_clients
    from chalicelib.config import reset_settings

    with moto.mock_aws():
        reset_settings()
        reset_clients()
        deps.reset()
        schema.ensure_table(boto3.client("dynamodb", region_name="cn-north-1"), os.environ["HMB_TABLE"])
        schema.ensure_bucket(boto3.client("s3", region_name="cn-north-1"), os.environ["HMB_BUCKET"])
        yield
        deps.reset()
        reset_clients()


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
