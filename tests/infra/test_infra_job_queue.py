"""The fan-out job queue as deployed: the worker's event source mapping reports partial batch failures (chalice's
on_sqs_message does not), failed messages redrive to an encrypted, TLS-only dead-letter queue, both alarmed."""
from __future__ import annotations

import pytest

from infra.stacks.params import JOB_WORKER, STAGES


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def queue_id(template: dict, prefix: str) -> str:
    [lid] = [k for k in resources(template, "AWS::SQS::Queue") if k.startswith(prefix)]
    return lid


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_worker_reads_the_stacks_queue_and_reports_partial_batch_failures(real, stage):
    template = real.template(stage)
    worker = template["Resources"]["JobWorker"]["Properties"]
    [event] = worker["Events"].values()
    assert event["Type"] == "SQS"
    props = event["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": [queue_id(template, "JobQueue"), "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": STAGES[stage].job_worker_concurrency}
    assert worker["Timeout"] == JOB_WORKER.timeout_seconds


def test_the_queue_redrives_to_its_dead_letter_queue_and_outlasts_the_worker(real):
    template = real.template("prod")
    queue = template["Resources"][queue_id(template, "JobQueue")]["Properties"]
    dlq = queue_id(template, "JobDeadLetters")
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                      "maxReceiveCount": JOB_WORKER.max_receives}
    assert queue["VisibilityTimeout"] >= 6 * JOB_WORKER.timeout_seconds


@pytest.mark.parametrize("prefix", ["JobQueue", "JobDeadLetters"])
def test_both_queues_are_encrypted_and_refuse_plain_http(real, prefix):
    template = real.template("prod")
    lid = queue_id(template, prefix)
    assert template["Resources"][lid]["Properties"]["SqsManagedSseEnabled"] is True
    policies = [p["Properties"] for p in resources(template, "AWS::SQS::QueuePolicy").values()
                if {"Ref": lid} in p["Properties"]["Queues"]]
    [statement] = [s for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dead_letters_and_old_messages_raise_alarms(real):
    template = real.template("prod")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    by_queue = {}
    for alarm in alarms.values():
        for dim in alarm["Properties"].get("Dimensions", []):
            if dim["Name"] == "QueueName":
                by_queue.setdefault(dim["Value"]["Fn::GetAtt"][0], []).append(alarm["Properties"])
    dlq, queue = queue_id(template, "JobDeadLetters"), queue_id(template, "JobQueue")
    assert [(a["MetricName"], a["Threshold"]) for a in by_queue[dlq]] == [("ApproximateNumberOfMessagesVisible", 1)]
    assert [(a["MetricName"], a["Threshold"]) for a in by_queue[queue]] == [
        ("ApproximateAgeOfOldestMessage", JOB_WORKER.oldest_message_alarm_seconds)]


def test_the_app_is_told_both_queue_urls_and_may_use_only_them(real):
    template = real.template("dev")
    queue, dlq = queue_id(template, "JobQueue"), queue_id(template, "JobDeadLetters")
    env = template["Resources"]["JobWorker"]["Properties"]["Environment"]["Variables"]
    assert env["HMB_JOBS_QUEUE_URL"] == {"Ref": queue} and env["HMB_JOBS_DLQ_URL"] == {"Ref": dlq}
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    sqs = {s["Sid"]: s for s in statements if any(a.startswith("sqs:") for a in _list(s["Action"]))}
    assert set(sqs) == {"JobQueueConsume", "JobQueueSend"}
    assert sqs["JobQueueConsume"]["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert sorted(r["Fn::GetAtt"][0] for r in sqs["JobQueueSend"]["Resource"]) == sorted([queue, dlq])


def _list(value):
    return value if isinstance(value, list) else [value]
