"""The fan-out job queue (SQS): messages of a few hundred work items each, and its dead-letter queue.

Deployed stages name both queues by URL (`HMB_JOBS_QUEUE_URL`, `HMB_JOBS_DLQ_URL`, provided by the stack); Lambda's
event source mapping receives and deletes. The local stage (`make run`, tests) has no stack: the queues are found —
or created — by name on the moto server (AWS_ENDPOINT_URL_SQS) or inside `moto.mock_aws`, and `drain` plays the
event source mapping (receive without waiting, delete what succeeded, make what failed visible again at once).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

QUEUE_NAME = "huiminbao-jobs"
DEAD_LETTER_NAME = "huiminbao-jobs-dlq"
# How many receives before SQS moves a message to the dead-letter queue (the stack's redrive policy uses the same).
MAX_RECEIVES = 5
SEND_BATCH = 10  # SendMessageBatch / DeleteMessageBatch take at most 10 entries
MAX_MESSAGE_BYTES = 256 * 1024

_lock = threading.Lock()
_clients: dict[tuple, Any] = {}


def sqs_client(region: str):
    """A cached boto3 SQS client (built lazily; honours AWS_ENDPOINT_URL_SQS for the local sandbox)."""
    import os

    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS")
    cache_key = (region, endpoint)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                "sqs", region_name=region, endpoint_url=endpoint,
                config=Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=10),
            )
            _clients[cache_key] = client
    return client


def reset_clients() -> None:
    with _lock:
        _clients.clear()


@dataclass(frozen=True)
class Received:
    """One received message, in the shape of a record of Lambda's SQS event."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int

    def as_lambda_record(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "receiptHandle": self.receipt_handle, "body": self.body,
                "attributes": {"ApproximateReceiveCount": str(self.receive_count)}, "eventSource": "aws:sqs"}


class SqsJobQueue:
    def __init__(self, client, queue_url: str, dead_letter_url: str | None) -> None:
        self.client = client
        self.url = queue_url
        self.dead_letter_url = dead_letter_url
        self.round_trips = 0

    @classmethod
    def local(cls, client) -> SqsJobQueue:
        """The local stage's queues, created on first use with the deployed redrive policy."""
        dlq_url = client.create_queue(QueueName=DEAD_LETTER_NAME)["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = client.create_queue(QueueName=QUEUE_NAME, Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
        })["QueueUrl"]
        return cls(client, url, dlq_url)

    # ---- producer ----------------------------------------------------------------------------------------
    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        """Send message bodies, ten per SendMessageBatch; raises if SQS refuses any (the caller retries the run)."""
        for start in range(0, len(bodies), SEND_BATCH):
            chunk = bodies[start:start + SEND_BATCH]
            for body in chunk:
                if len(body.encode()) > MAX_MESSAGE_BYTES:
                    raise ValueError(f"job message of {len(body.encode())} bytes exceeds SQS's 256 KiB")
            self.round_trips += 1
            resp = self.client.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "MessageBody": body, **({"DelaySeconds": delay_seconds} if delay_seconds else {})}
                for i, body in enumerate(chunk)])
            if resp.get("Failed"):
                raise RuntimeError(f"SQS refused {len(resp['Failed'])} job message(s): {resp['Failed'][0]}")

    def dead_letter(self, body: str) -> None:
        """Park a message for an operator (items that failed every attempt); the DLQ depth alarm fires."""
        self.round_trips += 1
        self.client.send_message(QueueUrl=self.dead_letter_url or self.url, MessageBody=body)

    # ---- the local stage's event source mapping -----------------------------------------------------------
    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[Received]:
        self.round_trips += 1
        resp = self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=0,
            VisibilityTimeout=visibility_timeout, AttributeNames=["ApproximateReceiveCount"])
        return [Received(m["MessageId"], m["ReceiptHandle"], m["Body"],
                         int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")))
                for m in resp.get("Messages", [])]

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), SEND_BATCH):
            self.round_trips += 1
            self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipt_handles[start:start + SEND_BATCH])])

    def release(self, receipt_handles: list[str]) -> None:
        """Make failed messages visible again at once (a zero visibility timeout): redelivery without waiting."""
        for start in range(0, len(receipt_handles), SEND_BATCH):
            self.round_trips += 1
            self.client.change_message_visibility_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(receipt_handles[start:start + SEND_BATCH])])

    def dead_letters(self) -> list[str]:
        """Bodies waiting in the dead-letter queue (local stage and tests; receives them, leaves them there)."""
        if not self.dead_letter_url:
            return []
        resp = self.client.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           VisibilityTimeout=0)
        return [m["Body"] for m in resp.get("Messages", [])]
