"""Account security in the deployed shape (issue #10, #9 item 7): every setting the code reads is provisioned,
stages fail closed, API Gateway's own answers have the contract's error body, WAF rate rules, security alarms."""
from __future__ import annotations

import json

import pytest

from chalicelib.config import SETTINGS
from infra.stacks.params import STAGES, stage_params


def resources(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def _secret_keys(template: dict) -> set[str]:
    keys: set[str] = set()
    for secret in resources(template, "AWS::SecretsManager::Secret").values():
        generator = secret["Properties"]["GenerateSecretString"]
        keys |= set(json.loads(generator["SecretStringTemplate"])) | {generator["GenerateStringKey"]}
    return keys


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_required_setting_is_provisioned_by_the_stack(real, stage):
    template = real.template(stage)
    env = resources(template, "AWS::Serverless::Function")["APIHandler"]["Properties"]["Environment"]["Variables"]
    secret_keys = _secret_keys(template)
    missing = [name for name, s in SETTINGS.items() if s.required
               and name not in (secret_keys if s.secret else env)]
    assert missing == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_secrets_hold_only_settings_the_code_declares(real, stage):
    assert sorted(_secret_keys(real.template(stage)) - set(SETTINGS)) == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_says_its_own_stage_and_never_allows_every_origin(real, stage):
    for function in resources(real.template(stage), "AWS::Serverless::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["HMB_STAGE"] == stage
        assert env["HMB_CORS_ORIGIN"] != "*"


def test_a_context_value_cannot_make_a_deployed_stage_local():
    with pytest.raises(SystemExit, match="HMB_STAGE"):
        stage_params("prod", {"env.HMB_STAGE": "local"})


def test_no_stage_is_configured_with_every_origin():
    assert all(p.cors_origin != "*" for p in STAGES.values())


@pytest.mark.parametrize("kind, status, code", [
    ("MISSING_AUTHENTICATION_TOKEN", "404", "ROUTE_NOT_FOUND"),
    ("UNSUPPORTED_MEDIA_TYPE", "415", "UNSUPPORTED_MEDIA_TYPE"),
    ("THROTTLED", "429", "RATE_LIMITED"),
    ("WAF_FILTERED", "429", "RATE_LIMITED"),
    ("DEFAULT_5XX", None, "INTERNAL_ERROR"),
])
def test_api_gateways_own_answers_have_the_contracts_error_body(real, kind, status, code):
    response = real.template("prod")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"][kind]
    assert response.get("StatusCode") == status
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert body["code"] == code and body["message"] and isinstance(body["details"], dict)
    if status == "429":
        assert response["ResponseParameters"]["Headers"]["Retry-After"].strip("'") == str(body["details"]
                                                                                         ["retry_after"])


def test_waf_rate_rules_guard_the_stage_and_answer_429(real):
    template = real.template("prod")
    ((_, acl),) = resources(template, "AWS::WAFv2::WebACL").items()
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    p = STAGES["prod"]
    assert rules["PerAddress"]["Statement"]["RateBasedStatement"]["Limit"] == p.waf_address_limit
    sms = rules["PerAddressSmsLogin"]["Statement"]["RateBasedStatement"]
    assert sms["Limit"] == p.waf_sms_address_limit
    assert sms["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"].endswith("/v1/auth/sms")
    assert rules["PerAddress"]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    ((_, association),) = resources(template, "AWS::WAFv2::WebACLAssociation").items()
    assert "RestAPI" in json.dumps(association["Properties"]["ResourceArn"])


def test_security_events_are_counted_and_alarmed(real):
    template = real.template("prod")
    filters = resources(template, "AWS::Logs::MetricFilter").values()
    assert any("security_event" in f["Properties"]["FilterPattern"] for f in filters)
    alarms = [a for a in resources(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "SecurityEvents"]
    assert len(alarms) == 1 and alarms[0]["Properties"]["AlarmActions"]


def test_reconciliation_differences_are_counted_and_alarmed(real):
    template = real.template("prod")
    filters = resources(template, "AWS::Logs::MetricFilter").values()
    assert any("reconciliation_difference" in f["Properties"]["FilterPattern"] for f in filters)
    alarms = [a for a in resources(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "ReconciliationDifferences"]
    assert len(alarms) == 1 and alarms[0]["Properties"]["AlarmActions"] and alarms[0]["Properties"]["Threshold"] == 1
