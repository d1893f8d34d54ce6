"""`make run`: the API with its sandbox on 127.0.0.1:$PORT, no AWS account needed.

1. starts an embedded moto server (DynamoDB, S3, SQS) on a free loopback port, with dummy credentials;
2. creates the table and bucket from chalicelib/adapters/schema.py (the module the tests and the CDK stack read),
   and the fan-out job queue with its dead-letter queue (chalicelib/adapters/job_queue.py);
3. serves the app with chalice's own local server for the `local` stage (what `chalice local --stage local
   --no-autoreload` runs), in this process, so one Ctrl-C or SIGTERM stops the API and moto together.

Everything lives in memory: stopping the process forgets every account, order and claim.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGE = "local"
REGION = "cn-north-1"


class Stop(Exception):
    """Raised in the main thread by the SIGTERM/SIGINT handler."""


def _on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


def start_moto():
    from moto.server import ThreadedMotoServer

    from tools.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()  # concurrent clients must see DynamoDB's atomicity, not moto's races
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def point_aws_at(endpoint: str) -> None:
    """Every boto3 client of this process (the app's included) talks to moto with throw-away credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_SQS": endpoint, "AWS_EC2_METADATA_DISABLED": "true",
    })


def create_storage() -> tuple[str, str]:
    import boto3

    from chalicelib.adapters import schema
    from chalicelib.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    schema.ensure_table(boto3.client("dynamodb", region_name=REGION), settings.table_name)
    schema.ensure_bucket(boto3.client("s3", region_name=REGION), settings.bucket_name)
    from chalicelib.adapters.job_queue import SqsJobQueue, sqs_client

    SqsJobQueue.local(sqs_client(REGION))  # POST /sandbox/jobs/{job} drains it through the SQS worker
    return settings.table_name, settings.bucket_name


def local_server(host: str, port: int):
    """chalice's local dev server for the `local` stage: the stage's environment variables from
    .chalice/config.json are applied to this process before app.py is imported, as `chalice local` does."""
    from chalice.cli import create_local_server
    from chalice.cli.factory import CLIFactory
    from chalice.local import ThreadedHTTPServer

    # socketserver's default listen backlog (5) resets connections when a phone burst (the e2e concurrency tests:
    # 20 orders at once) arrives together; API Gateway queues them, so the local server should too.
    ThreadedHTTPServer.request_queue_size = 128
    factory = CLIFactory(PROJECT_DIR, environ=os.environ)
    return create_local_server(factory, host, port, STAGE)


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    os.chdir(PROJECT_DIR)
    sys.path.insert(0, PROJECT_DIR)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    # chalice local logs each request on stdout, as Lambda would
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    for chatty in ("werkzeug", "botocore"):  # moto's request lines and boto's credential notes drown the API's
        logging.getLogger(chatty).setLevel(logging.WARNING)

    moto_server, moto_url = start_moto()
    server = None
    try:
        point_aws_at(moto_url)
        os.environ["HMB_STAGE"] = STAGE
        table, bucket = create_storage()
        server = local_server(host, port)
        bound_host, bound_port = server.server.server_address[:2]
        base = f"http://{bound_host}:{bound_port}"
        print("\n".join([
            "",
            f"  惠民保 API (stage {STAGE}) serving on {base}",
            f"    plans     {base}/v1/plans",
            f"    OpenAPI   {base}/v1/openapi.json",
            f"    sandbox   {base}/sandbox/...  (simulated 医保 platform, WeChat, SMS, clock)",
            f"  moto (DynamoDB table {table}, S3 bucket {bucket}, SQS job queue) on {moto_url}",
            "  Data lives in memory until this process stops. Ctrl-C to stop.",
            "",
        ]), flush=True)
        server.server.serve_forever(poll_interval=0.2)
    except Stop as stop:
        print(f"\nstopping ({stop})", flush=True)
    finally:
        # serve_forever has returned (the signal interrupted it in this thread), so only close the socket
        if server is not None:
            server.server.server_close()
        started = time.monotonic()
        moto_server.stop()
        print(f"stopped moto in {time.monotonic() - started:.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
