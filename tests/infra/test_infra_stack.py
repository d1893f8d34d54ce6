"""The deployed shape: what `make synth` produces for the real app (CDK Template assertions)."""
from __future__ import annotations

import pytest
from chalice.utils import to_cfn_resource_name

from chalicelib.adapters import schema
from chalicelib.schedules import SCHEDULES
from infra.stacks.params import API_GATEWAY_STAGE, APP_NAME, STAGES


def resources(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def only(template: dict, cfn_type: str) -> tuple[str, dict]:
    found = resources(template, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


@pytest.fixture(scope="module")
def prod(real) -> dict:
    return real.template("prod")


@pytest.fixture(scope="module")
def dev(real) -> dict:
    return real.template("dev")


def test_synth_builds_one_stack_per_stage(real):
    assert real.stages() == ["dev", "prod"]


def test_table_keys_and_gsis_are_the_schema_modules(prod):
    _, table = only(prod, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == schema.key_schema()
    assert sorted(props["AttributeDefinitions"], key=lambda d: d["AttributeName"]) == sorted(
        schema.attribute_definitions(), key=lambda d: d["AttributeName"]
    )
    gsis = {g["IndexName"]: g for g in props["GlobalSecondaryIndexes"]}
    assert set(gsis) == set(schema.GSIS)
    for name, (pk, sk) in schema.GSIS.items():
        assert gsis[name]["KeySchema"] == schema.key_schema(pk, sk)
        assert gsis[name]["Projection"] == {"ProjectionType": "ALL"}


def test_table_is_on_demand_with_pitr_ttl_and_customer_key(prod):
    _, table = only(prod, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    sse = props["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    key_id = sse["KMSMasterKeyId"]["Fn::GetAtt"][0]
    key = prod["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True


def test_prod_table_is_retained_and_deletion_protected_dev_is_not(prod, dev):
    _, prod_table = only(prod, "AWS::DynamoDB::Table")
    _, dev_table = only(dev, "AWS::DynamoDB::Table")
    assert prod_table["DeletionPolicy"] == "Retain"
    assert prod_table["Properties"]["DeletionProtectionEnabled"] is True
    assert dev_table["DeletionPolicy"] == "Delete"
    assert not dev_table["Properties"].get("DeletionProtectionEnabled")


def test_prod_table_and_indexes_are_prewarmed_for_launch(prod):
    _, table = only(prod, "AWS::DynamoDB::Table")
    p = STAGES["prod"]
    assert table["Properties"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": p.warm_read_units, "WriteUnitsPerSecond": p.warm_write_units,
    }
    for gsi in table["Properties"]["GlobalSecondaryIndexes"]:
        if p.gsi_warm_write_units:
            assert gsi["WarmThroughput"]["WriteUnitsPerSecond"] == p.gsi_warm_write_units
        else:
            assert "WarmThroughput" not in gsi


def test_documents_bucket_is_private_kms_encrypted_versioned_and_logged(prod):
    from aws_cdk.assertions import Match, Template

    template = Template.from_json(prod)
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()},
            "BucketKeyEnabled": True,
        }]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "documents/"},
        "LifecycleConfiguration": {"Rules": Match.array_with([
            Match.object_like({"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}, "Status": "Enabled"}),
            Match.object_like({"NoncurrentVersionExpiration": {"NoncurrentDays": 365}}),
        ])},
    })


def test_every_bucket_blocks_public_access_denies_plain_http_and_is_retained(prod):
    buckets = resources(prod, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
        assert "BucketEncryption" in bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
    policies = resources(prod, "AWS::S3::BucketPolicy").values()
    insecure_denied = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert insecure_denied == set(buckets)


def test_functions_run_python311_with_the_stacks_role(prod):
    functions = resources(prod, "AWS::Serverless::Function")
    assert "APIHandler" in functions
    for name, fn in functions.items():
        assert fn["Properties"]["Runtime"] == "python3.11", name
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        assert prod["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
    assert not [r for r in prod["Resources"] if r == "DefaultRole"], "chalice's autogen role must not be deployed"


def _lambda_role_statements(template: dict) -> list[dict]:
    role_id = resources(template, "AWS::Serverless::Function")["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    assert not template["Resources"][role_id]["Properties"].get("ManagedPolicyArns")
    return statements


def test_lambda_role_gets_only_the_actions_it_needs(prod):
    actions = set()
    for statement in _lambda_role_statements(prod):
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*", statement
        actions |= set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    assert actions == {
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
        "s3:GetObject", "s3:PutObject",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey",
        "logs:CreateLogStream", "logs:PutLogEvents",
        # the fan-out job queue (tests/infra/test_infra_job_queue.py checks which queue each may reach)
        "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


def test_lambda_role_reaches_the_table_and_its_indexes(prod):
    table_id, _ = only(prod, "AWS::DynamoDB::Table")
    query_resources = [
        s["Resource"] for s in _lambda_role_statements(prod)
        if "dynamodb:Query" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    flat = [r for res in query_resources for r in (res if isinstance(res, list) else [res])]
    assert {"Fn::GetAtt": [table_id, "Arn"]} in flat
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/*"]]} in flat


def test_app_environment_points_at_the_stacks_resources(prod):
    table_id, _ = only(prod, "AWS::DynamoDB::Table")
    secrets = sorted(resources(prod, "AWS::SecretsManager::Secret"))
    env = resources(prod, "AWS::Serverless::Function")["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["HMB_STAGE"] == "prod"
    assert env["HMB_TABLE"] == {"Ref": table_id}
    assert env["HMB_BUCKET"]["Ref"] in resources(prod, "AWS::S3::Bucket")
    assert sorted(ref["Ref"] for ref in env["HMB_SECRETS_ARN"]["Fn::Join"][1]) == secrets
    assert prod["Resources"][env["HMB_KMS_KEY_ID"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"
    assert "set-by-infra" not in str(env)


def test_secrets_are_encrypted_with_the_customer_key_and_named_by_stage(prod):
    secrets = resources(prod, "AWS::SecretsManager::Secret").values()
    assert sorted(s["Properties"]["Name"] for s in secrets) == [
        f"{APP_NAME}/prod/app", f"{APP_NAME}/prod/id-keys", f"{APP_NAME}/prod/staff-token",
        f"{APP_NAME}/prod/wechatpay",
    ]
    for secret in secrets:
        assert prod["Resources"][secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"
        assert secret["DeletionPolicy"] == "Retain"


def test_api_is_regional_and_throttled_at_the_stage(prod):
    api = prod["Resources"]["RestAPI"]["Properties"]
    p = STAGES["prod"]
    assert api["EndpointConfiguration"] == "REGIONAL"
    assert api["StageName"] == API_GATEWAY_STAGE
    assert api["MethodSettings"] == [{
        "ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": p.api_rate_limit,
        "ThrottlingBurstLimit": p.api_burst_limit, "MetricsEnabled": True, "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,
    }]
    assert p.api_rate_limit <= 10_000, "must stay under the regional account quota"
    assert "AccessLogSetting" in api


def test_deployed_api_has_no_sandbox_routes(prod):
    paths = prod["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert paths, "the API has routes"
    assert not [p for p in paths if "sandbox" in p.lower()]


def test_alarms_watch_api_5xx_lambda_errors_and_throttles_and_dynamodb_throttles(prod):
    alarms = resources(prod, "AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms}
    assert {
        ("AWS/ApiGateway", "5XXError"), ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"),
        ("AWS/DynamoDB", "ReadThrottleEvents"), ("AWS/DynamoDB", "WriteThrottleEvents"),
    } <= watched
    functions = set(resources(prod, "AWS::Serverless::Function"))
    lambda_errors = {
        d["Value"]["Ref"] for a in alarms if a["Properties"].get("MetricName") == "Errors"
        for d in a["Properties"]["Dimensions"]
    }
    assert lambda_errors == functions
    topic_id, _ = only(prod, "AWS::SNS::Topic")
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_a_rule_exists_only_for_scheduled_handlers_the_app_defines(prod):
    functions = set(resources(prod, "AWS::Serverless::Function"))
    targets = [t["Arn"]["Fn::GetAtt"][0] for r in resources(prod, "AWS::Events::Rule").values()
               for t in r["Properties"]["Targets"]]
    for job in SCHEDULES:
        expected = 1 if to_cfn_resource_name(job.handler) in functions else 0
        assert targets.count(to_cfn_resource_name(job.handler)) == expected, job.handler
    assert set(targets) <= functions, "no rule may target a placeholder"


def test_documents_uploaded_under_claims_are_verified_by_the_apps_upload_function(prod):
    """#13: the bucket's ObjectCreated event reaches `document_uploaded`, so a client that crashed after uploading
    still completes its claim."""
    lid = to_cfn_resource_name("document_uploaded")
    assert lid in resources(prod, "AWS::Serverless::Function")
    _, notifications = only(prod, "Custom::S3BucketNotifications")
    bucket_id = notifications["Properties"]["BucketName"]["Ref"]
    assert prod["Resources"][bucket_id]["Properties"]["BucketEncryption"]  # the documents bucket (KMS)
    [config] = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "claims/"}]
    assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [lid, "Arn"]}
    [permission] = [p["Properties"] for p in resources(prod, "AWS::Lambda::Permission").values()
                    if p["Properties"]["Principal"] == "s3.amazonaws.com"]
    assert permission["FunctionName"] == {"Fn::GetAtt": [lid, "Arn"]}
