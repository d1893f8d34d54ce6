"""Scheduled jobs: chalicelib/schedules.py is the one definition — app.py defines a handler per entry and the stack
gives each an EventBridge rule with that expression (and drops chalice's own rule)."""
from __future__ import annotations

from chalicelib.schedules import SCHEDULES


def rules_by_target(template: dict) -> dict[str, dict]:
    rules = {}
    for rule in template["Resources"].values():
        if rule["Type"] == "AWS::Events::Rule":
            for target in rule["Properties"]["Targets"]:
                rules[target["Arn"]["Fn::GetAtt"][0]] = rule
    return rules


def logical_id(handler: str) -> str:
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name(handler)


def test_every_schedule_has_one_rule_with_the_schedules_modules_expression(real):
    for stage in ("dev", "prod"):
        rules = rules_by_target(real.template(stage))
        assert {lid: r["Properties"]["ScheduleExpression"] for lid, r in rules.items()} == {
            logical_id(s.handler): s.expression for s in SCHEDULES}


def test_the_app_declares_the_same_expression_for_every_schedule():
    from chalice.app import ScheduledEventConfig

    from app import app

    declared = {e.name: e.schedule_expression for e in app.event_sources if isinstance(e, ScheduledEventConfig)}
    assert declared == {s.handler: s.expression for s in SCHEDULES}


def test_reconciliation_runs_every_ten_minutes_everywhere(real):
    rules = rules_by_target(real.template("prod"))
    assert rules["ReconcileOrders"]["Properties"]["ScheduleExpression"] == "rate(10 minutes)"


def test_app_schedule_expression_is_replaced_not_doubled(real, scheduled):
    sweep = scheduled.template("dev")["Resources"]["ClaimDeadlineSweep"]["Properties"]
    assert "Events" not in sweep, "chalice's own rate(5 minutes) rule would run the job a second time"
    rules = rules_by_target(scheduled.template("dev"))
    assert rules["ClaimDeadlineSweep"]["Properties"]["ScheduleExpression"] == "cron(0 18 * * ? *)"
    for s in SCHEDULES:
        assert "Events" not in real.template("dev")["Resources"][logical_id(s.handler)]["Properties"]


def test_failed_deliveries_retry_then_land_in_an_alarmed_dead_letter_queue(real):
    template = real.template("dev")
    queue = "ScheduleDeadLetters"
    assert template["Resources"][next(k for k in template["Resources"] if k.startswith(queue))]
    dlq = next(k for k, r in template["Resources"].items() if k.startswith(queue) and r["Type"] == "AWS::SQS::Queue")
    for rule in rules_by_target(template).values():
        target = rule["Properties"]["Targets"][0]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    alarmed = [a for a in template["Resources"].values() if a["Type"] == "AWS::CloudWatch::Alarm"
               and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}} in a["Properties"].get(
                   "Dimensions", [])]
    assert len(alarmed) == 1


def test_eventbridge_may_invoke_each_scheduled_function(real):
    template = real.template("dev")
    allowed = {
        p["Properties"]["FunctionName"]["Fn::GetAtt"][0]
        for p in template["Resources"].values()
        if p["Type"] == "AWS::Lambda::Permission" and p["Properties"]["Principal"] == "events.amazonaws.com"
    }
    assert allowed == {logical_id(s.handler) for s in SCHEDULES}


def test_synth_names_the_handlers_still_missing(scheduled):
    assert "no schedule rule for handlers app.py does not define yet: reconcile_orders" in scheduled.output
