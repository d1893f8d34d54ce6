"""Scheduled jobs: when app.py defines the handlers, the stack turns SCHEDULES into EventBridge rules."""
from __future__ import annotations

from infra.stacks.params import SCHEDULES


def rules_by_target(template: dict) -> dict[str, dict]:
    rules = {}
    for rule in template["Resources"].values():
        if rule["Type"] == "AWS::Events::Rule":
            for target in rule["Properties"]["Targets"]:
                rules[target["Arn"]["Fn::GetAtt"][0]] = rule
    return rules


def test_defined_handlers_get_exactly_the_stacks_schedule(scheduled):
    template = scheduled.template("dev")
    rules = rules_by_target(template)
    jobs = {job.handler: job for job in SCHEDULES}
    assert set(rules) == {"RenewalRun", "ClaimDeadlineSweep"}
    assert rules["RenewalRun"]["Properties"]["ScheduleExpression"] == jobs["renewal_run"].expression
    assert rules["ClaimDeadlineSweep"]["Properties"]["ScheduleExpression"] == jobs["claim_deadline_sweep"].expression


def test_app_schedule_expression_is_replaced_not_doubled(scheduled):
    sweep = scheduled.template("dev")["Resources"]["ClaimDeadlineSweep"]["Properties"]
    assert "Events" not in sweep, "chalice's own rate(5 minutes) rule would run the job a second time"


def test_failed_deliveries_retry_then_land_in_an_alarmed_dead_letter_queue(scheduled):
    template = scheduled.template("dev")
    queues = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 1
    for rule in rules_by_target(template).values():
        target = rule["Properties"]["Targets"][0]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queues[0], "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    dlq_alarms = [
        a for a in template["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm" and a["Properties"].get("Namespace") == "AWS/SQS"
    ]
    assert len(dlq_alarms) == 1


def test_eventbridge_may_invoke_each_scheduled_function(scheduled):
    template = scheduled.template("dev")
    allowed = {
        p["Properties"]["FunctionName"]["Fn::GetAtt"][0]
        for p in template["Resources"].values()
        if p["Type"] == "AWS::Lambda::Permission" and p["Properties"]["Principal"] == "events.amazonaws.com"
    }
    assert allowed == {"RenewalRun", "ClaimDeadlineSweep"}


def test_synth_names_the_handlers_still_missing(scheduled):
    assert "no schedule rule for handlers app.py does not define yet: reconcile_orders" in scheduled.output
