"""The whole deployed service: the Chalice app (via chalice.cdk) and everything it touches.

One stack per stage. Its construct id IS the Chalice stage name (`chalice.cdk.Chalice` packages the stage
named after its scope), so `.chalice/config.json` stage settings apply and the stack name is
`huiminbao-<stage>`.
"""
from __future__ import annotations

import glob
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import aws_cdk as cdk
from aws_cdk import (
    aws_apigateway as apigw,
)
from aws_cdk import (
    aws_cloudwatch as cw,
)
from aws_cdk import (
    aws_cloudwatch_actions as cw_actions,
)
from aws_cdk import (
    aws_dynamodb as dynamodb,
)
from aws_cdk import (
    aws_events as events,
)
from aws_cdk import (
    aws_events_targets as targets,
)
from aws_cdk import (
    aws_iam as iam,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_lambda as lambda_,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_s3_notifications as s3n,
)
from aws_cdk import (
    aws_secretsmanager as secretsmanager,
)
from aws_cdk import (
    aws_sns as sns,
)
from aws_cdk import (
    aws_sns_subscriptions as subs,
)
from aws_cdk import (
    aws_sqs as sqs,
)
from aws_cdk import (
    aws_wafv2 as wafv2,
)
from cdk_nag import NagPackSuppression, NagSuppressions
from chalice.cdk import Chalice
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from .params import API_GATEWAY_STAGE, APP_NAME, JOB_WORKER, StageParams

FIVE_MINUTES = cdk.Duration.minutes(5)
_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH, 90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
}
# 32 random bytes as 64 hex digits: what config.py's _key() parses.
_HEX_32_BYTES = dict(password_length=64, exclude_uppercase=True, exclude_punctuation=True,
                     exclude_characters="ghijklmnopqrstuvwxyz")
WECHATPAY_SECRET_KEYS = (
    "HMB_WECHAT_APPID",  # mini-program AppID
    "HMB_WECHAT_APP_SECRET",  # mini-program AppSecret, for code2session login
    "HMB_WECHAT_MCHID",  # merchant id
    "HMB_WECHATPAY_CERT_SERIAL",  # serial number of the merchant API certificate
    "HMB_WECHATPAY_PRIVATE_KEY",  # merchant API private key, PEM (apiclient_key.pem)
    "HMB_WECHATPAY_PUBLIC_KEY",  # WeChat Pay public key (微信支付公钥), PEM
    "HMB_WECHATPAY_PUBLIC_KEY_ID",  # its id (PUB_KEY_ID_...)
)
# Operator-filled endpoints and credentials of the systems the app calls (chalicelib/config.py SETTINGS).
APP_SECRET_KEYS = (
    "HMB_MEDICAL_PLATFORM_URL", "HMB_MEDICAL_PLATFORM_SECRET", "HMB_MEDICAL_PLATFORM_APP_ID",
    "HMB_SMS_URL", "HMB_SMS_TOKEN", "HMB_CAPTCHA_URL", "HMB_CAPTCHA_SECRET", "HMB_WECHAT_SUBSCRIBE_TEMPLATES",
    "HMB_PAYOUT_URL", "HMB_PAYOUT_SECRET",
)
_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY,
}


def load_table_schema(project_dir: str) -> ModuleType:
    """The app's table schema module, loaded by path so the CDK app never imports the runtime package."""
    path = os.path.join(project_dir, "chalicelib", "adapters", "schema.py")
    spec = importlib.util.spec_from_file_location("hmb_table_schema", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_schedules(project_dir: str) -> tuple:
    """The app's schedules (chalicelib/schedules.py: the one definition app.py also reads), loaded by path."""
    path = os.path.join(project_dir, "chalicelib", "schedules.py")
    spec = importlib.util.spec_from_file_location("hmb_schedules", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module.SCHEDULES


# Where staff upload bulk-enrolment lists, one folder per plan (chalicelib/adapters/list_uploads.py LIST_PREFIX).
BULK_LIST_PREFIX = "bulk-lists/"
BULK_PAYMENT_METHODS = frozenset({"subsidy", "collective"})


def load_list_retention(project_dir: str) -> dict[str, int]:
    """Days each plan keeps its uploaded bulk-enrolment lists (DOMAIN §10.4: `bulk_enrolment.retention_days` in the
    plan's JSON), for every plan that takes subsidised or collective lists. Read from the files, as the schema is:
    the CDK app never imports the runtime package. A plan taking lists must state its retention period."""
    days: dict[str, int] = {}
    for path in sorted(glob.glob(os.path.join(project_dir, "chalicelib", "plans", "*.json"))):
        with open(path, encoding="utf-8") as f:
            plan = json.load(f)
        if not BULK_PAYMENT_METHODS & set(plan.get("payment_methods", [])):
            continue
        retention = (plan.get("bulk_enrolment") or {}).get("retention_days")
        if not isinstance(retention, int) or retention < 1:
            raise ValueError(f"plan {plan.get('plan_id')!r} takes bulk lists but states no "
                             "bulk_enrolment.retention_days")
        days[plan["plan_id"]] = retention
    return days


def _forget_imported_app() -> None:
    """Make chalice import app.py afresh for this stage.

    `chalice package` imports app.py with the stage's environment (HMB_STAGE decides which blueprints
    register, e.g. sandbox routes only in `local`). A second stack in the same process would otherwise reuse
    the first stage's module and its route table.
    """
    for name in [n for n in sys.modules if n == "app" or n == "chalicelib" or n.startswith("chalicelib.")]:
        del sys.modules[name]


def _load_slim_package() -> ModuleType:
    """tools/slim_package.py of this project (not of `source_dir`), loaded by path like the schema."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "tools", "slim_package.py")
    spec = importlib.util.spec_from_file_location("hmb_slim_package", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SlimChalice(Chalice):
    """chalice.cdk's construct, with the zip it packaged slimmed (tools/slim_package.py) before it becomes the
    functions' asset: what `make package` measures against the budget is what is deployed."""

    def _package_app(self) -> None:
        super()._package_app()
        _load_slim_package().slim(Path(self._sam_package_dir) / "deployment.zip")


class HuiminbaoStack(cdk.Stack):
    def __init__(self, scope: Construct, params: StageParams, *, source_dir: str, **kwargs) -> None:
        super().__init__(
            scope,
            params.name,  # == Chalice stage name, see module docstring
            stack_name=f"{APP_NAME}-{params.name}",
            description=f"惠民保 city supplementary health insurance service ({params.name})",
            **kwargs,
        )
        self.params = params
        self.schema = load_table_schema(source_dir)
        self.schedules = load_schedules(source_dir)
        self.removal = cdk.RemovalPolicy.RETAIN if params.retain_data else cdk.RemovalPolicy.DESTROY
        for key, value in {"app": APP_NAME, "stage": params.name, **params.tags}.items():
            cdk.Tags.of(self).add(key, value)

        self.data_key = self._key("DataKey", "data", "Table, documents bucket, secrets and alarm topic at rest")
        self.id_key = self._key("IdNumberKey", "id-number", "Envelope encryption of resident ID numbers (身份证号)")
        self.table = self._table()
        self.list_retention = load_list_retention(source_dir)
        self.logs_bucket, self.documents_bucket = self._buckets()
        self.app_secret, self.id_keys_secret, self.wechatpay_secret, self.staff_secret = self._secrets()
        self.secrets = (self.app_secret, self.id_keys_secret, self.wechatpay_secret, self.staff_secret)
        self.job_queue, self.job_dead_letters = self._job_queues()
        self.lambda_role = iam.Role(
            self,
            "LambdaRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Execution role shared by every Lambda function of the Chalice app",
        )
        _forget_imported_app()
        self.chalice = SlimChalice(self, "ChaliceApp", source_dir=source_dir, stage_config=self._stage_config())
        self.sam_resources = self._packaged_sam_resources()
        self.function_ids = sorted(
            lid for lid, res in self.sam_resources.items() if res["Type"] == "AWS::Serverless::Function"
        )
        self._grant_least_privilege()
        self._function_log_groups()
        self.alarm_topic = self._alarm_topic()
        self._api_gateway()
        self.scheduled, self.unscheduled = self._schedules()
        self._job_worker()
        self._document_upload_events()
        self._alarms()
        self._account_security()
        self._reconciliation_alarm()
        self._outputs()
        self._nag_suppressions()

    # -- storage -----------------------------------------------------------------------------------------

    def _key(self, construct_id: str, alias: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            alias=f"alias/{APP_NAME}-{self.params.name}-{alias}",
            description=description,
            enable_key_rotation=True,
            removal_policy=self.removal,
            pending_window=cdk.Duration.days(30 if self.params.retain_data else 7),
        )

    def _table(self) -> dynamodb.Table:
        schema, p = self.schema, self.params
        types = {d["AttributeName"]: _ATTRIBUTE_TYPES[d["AttributeType"]]
                 for d in schema.attribute_definitions()}

        def attr(name: str) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=name, type=types[name])

        warm = None
        if p.warm_read_units or p.warm_write_units:
            warm = dynamodb.WarmThroughput(
                read_units_per_second=p.warm_read_units, write_units_per_second=p.warm_write_units
            )
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=attr(schema.PARTITION_KEY),
            sort_key=attr(schema.SORT_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            deletion_protection=p.retain_data,
            removal_policy=self.removal,
            warm_throughput=warm,
        )
        gsi_warm = None
        if p.gsi_warm_read_units or p.gsi_warm_write_units:
            gsi_warm = dynamodb.WarmThroughput(
                read_units_per_second=p.gsi_warm_read_units, write_units_per_second=p.gsi_warm_write_units
            )
        for index_name, (pk, sk) in schema.GSIS.items():
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=attr(pk),
                sort_key=attr(sk),
                projection_type=dynamodb.ProjectionType.ALL,
                warm_throughput=gsi_warm,
            )
        return table

    def _buckets(self) -> tuple[s3.Bucket, s3.Bucket]:
        # Server access logs can only be delivered to an SSE-S3 bucket, so this one cannot use the CMK.
        logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=cdk.Duration.days(max(self.params.log_retention_days, 1))),
                s3.LifecycleRule(id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Claim documents and e-policies are medical and identity records: the bucket is always retained,
        # whatever the stage, so deleting a stack can never delete a member's documents.
        documents = s3.Bucket(
            self,
            "DocumentsBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,  # one KMS call per bucket key, not per object: KMS cost ~0
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="documents/",
            lifecycle_rules=[
                s3.LifecycleRule(id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
                s3.LifecycleRule(
                    id="old-versions",
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(30),
                        )
                    ],
                    noncurrent_version_expiration=cdk.Duration.days(365),
                    expired_object_delete_marker=True,
                ),
                # Bulk-enrolment lists hold ID numbers in clear: the app deletes a file once its rows are stored
                # encrypted (the bucket is versioned, so that leaves a noncurrent version, gone a day later); a
                # file never started expires after its plan's retention period (DOMAIN §10.4).
                *(s3.LifecycleRule(id=f"expire-bulk-lists-{plan_id}", prefix=f"{BULK_LIST_PREFIX}{plan_id}/",
                                   expiration=cdk.Duration.days(days),
                                   noncurrent_version_expiration=cdk.Duration.days(1),
                                   abort_incomplete_multipart_upload_after=cdk.Duration.days(1))
                  for plan_id, days in sorted(self.list_retention.items())),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        return logs_bucket, documents

    def _secrets(self) -> tuple[secretsmanager.Secret, ...]:
        """Three JSON secrets whose keys are the environment variable names chalicelib/config.py reads.

        Split by lifecycle: the token key may be replaced, the ID keys never, the WeChat Pay material follows
        the merchant platform. The app finds them through HMB_SECRETS_ARN (comma-separated ARNs).
        """
        prefix = f"{APP_NAME}/{self.params.name}"

        def secret(construct_id: str, name: str, description: str, key: str, template: dict, **generator):
            return secretsmanager.Secret(
                self,
                construct_id,
                secret_name=f"{prefix}/{name}",
                description=description,
                encryption_key=self.data_key,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps(template), generate_string_key=key, **generator
                ),
                removal_policy=self.removal,
            )

        app_secret = secret(
            "AppSecret", "app",
            "Session token signing key (HS256), generated at deploy; the 医保 platform's request-signing secret and "
            "app id, filled in by the operator (docs/medical-platform.md).",
            "HMB_TOKEN_SECRET", {key: "" for key in APP_SECRET_KEYS},
            password_length=64, exclude_punctuation=True,
        )
        id_keys = secret(
            "IdKeysSecret", "id-keys",
            "HMB_ID_HASH_KEY: HMAC key (hex) for resident ID lookup hashes - NEVER change it, every stored hash "
            "depends on it. HMB_WRAPPED_DATA_KEY: the ID data key wrapped by the id-number KMS key (added by the "
            "operator after the first deploy, see docs/deploy.md).",
            "HMB_ID_HASH_KEY", {}, **_HEX_32_BYTES,
        )
        # The merchant's material comes from the WeChat Pay merchant platform (商户平台): deploy creates the
        # secret with empty fields and a generated APIv3 key the operator may adopt, then fills it in.
        wechatpay = secret(
            "WeChatPaySecret", "wechatpay",
            "WeChat mini-program and WeChat Pay v3 merchant material, filled in by the operator after deploy.",
            "HMB_WECHATPAY_APIV3_KEY",
            {key: "" for key in WECHATPAY_SECRET_KEYS},
            password_length=32, exclude_punctuation=True,
        )
        # Staff tokens are signed with their own key, shared with the insurer's staff identity service only: whoever
        # holds it can mint staff tokens, never members' tokens.
        staff = secret(
            "StaffTokenSecret", "staff-token",
            "Staff session token signing key (HS256), generated at deploy; shared with the staff identity service.",
            "HMB_STAFF_TOKEN_SECRET", {}, password_length=64, exclude_punctuation=True,
        )
        return app_secret, id_keys, wechatpay, staff

    # -- the Chalice app -------------------------------------------------------------------------------------

    def _stage_config(self) -> dict:
        return {
            # China regions have no edge-optimised endpoints, and members are all in one country.
            "api_gateway_endpoint_type": "REGIONAL",
            # The stack owns the role so its policy is exactly the grants below, not chalice's autogen guess.
            "manage_iam_role": False,
            "iam_role_arn": self.lambda_role.role_arn,
            "environment_variables": {
                **self.params.environment,
                # After the stage's own settings, so no context value can turn a deployed stage into `local`.
                "HMB_STAGE": self.params.name,
                "HMB_TABLE": self.table.table_name,
                "HMB_BUCKET": self.documents_bucket.bucket_name,
                "HMB_SECRETS_ARN": cdk.Fn.join(",", [s.secret_arn for s in self.secrets]),
                "HMB_KMS_KEY_ID": self.id_key.key_arn,
                "HMB_JOBS_QUEUE_URL": self.job_queue.queue_url,
                "HMB_JOBS_DLQ_URL": self.job_dead_letters.queue_url,
                "HMB_CORS_ORIGIN": self.params.cors_origin,
            },
        }

    def _packaged_sam_resources(self) -> dict:
        # chalice.cdk keeps the template it packaged in a private dir; reading it is the only way to learn
        # which functions the app defines (CfnInclude has no listing API).
        with open(os.path.join(self.chalice._sam_package_dir, "sam.json")) as f:
            return json.load(f)["Resources"]

    def _function(self, logical_id: str) -> cdk.CfnResource:
        return self.chalice.get_resource(logical_id)

    def _grant_least_privilege(self) -> None:
        role, table = self.lambda_role, self.table
        index_arn = f"{table.table_arn}/index/*"
        role.add_to_policy(iam.PolicyStatement(
            sid="TableItems",
            actions=[
                "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
            ],
            resources=[table.table_arn],
        ))
        role.add_to_policy(iam.PolicyStatement(sid="TableIndexes", actions=["dynamodb:Query"], resources=[index_arn]))
        role.add_to_policy(iam.PolicyStatement(
            sid="DocumentObjects",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[self.documents_bucket.arn_for_objects("*")],
        ))
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadSecrets",
            actions=["secretsmanager:GetSecretValue"],
            resources=[s.secret_arn for s in self.secrets],
        ))
        # The data key is used on the role's behalf by DynamoDB, S3 (SSE-KMS with bucket keys) and Secrets
        # Manager; the app never calls it directly.
        role.add_to_policy(iam.PolicyStatement(
            sid="DataKeyViaServices",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[self.data_key.key_arn],
        ))
        role.add_to_policy(iam.PolicyStatement(
            sid="IdNumberKey",
            actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            resources=[self.id_key.key_arn],
        ))

    def _function_log_groups(self) -> None:
        for lid in self.function_ids:
            group = logs.LogGroup(
                self,
                f"{lid}LogGroup",
                log_group_name=f"/aws/lambda/{self._function(lid).ref}",
                retention=_RETENTION[self.params.log_retention_days],
                removal_policy=self.removal,
            )
            group.grant_write(self.lambda_role)

    def _api_gateway(self) -> None:
        if "RestAPI" not in self.sam_resources:
            return
        api = self._function("RestAPI")
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=_RETENTION[self.params.log_retention_days],
            removal_policy=self.removal,
        )
        # API Gateway writes stage logs through one role per account and region.
        push_role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=push_role.role_arn)
        api.node.add_dependency(account)  # the stage's logging settings need the account role first
        api.add_property_override("Name", f"{APP_NAME}-{self.params.name}")
        api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": self.params.api_rate_limit,
            "ThrottlingBurstLimit": self.params.api_burst_limit,
            "MetricsEnabled": True,
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,  # request bodies carry ID numbers and diagnoses: never log them
        }])
        api.add_property_override("AccessLogSetting", {
            "DestinationArn": access_logs.log_group_arn,
            "Format": json.dumps({
                "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                "requestTime": "$context.requestTime", "method": "$context.httpMethod",
                "resourcePath": "$context.resourcePath", "status": "$context.status",
                "latencyMs": "$context.responseLatency", "integrationMs": "$context.integration.latency",
                "responseLength": "$context.responseLength",
            }),
        })

    def _schedules(self) -> tuple[list, list]:
        scheduled, unscheduled = [], []
        dlq = None
        for job in self.schedules:
            lid = to_cfn_resource_name(job.handler)
            if lid not in self.function_ids:
                unscheduled.append(job)
                continue
            resource = self._function(lid)
            # Drop any @app.schedule rule chalice generated: the stack's expression is the one that runs.
            sam_events = self.sam_resources[lid]["Properties"].get("Events", {})
            schedule_events = [name for name, ev in sam_events.items() if ev.get("Type") == "Schedule"]
            if schedule_events and len(schedule_events) == len(sam_events):
                resource.add_property_deletion_override("Events")
            else:
                for name in schedule_events:
                    resource.add_property_deletion_override(f"Events.{name}")
            if dlq is None:
                dlq = sqs.Queue(
                    self,
                    "ScheduleDeadLetters",
                    encryption=sqs.QueueEncryption.SQS_MANAGED,
                    enforce_ssl=True,
                    retention_period=cdk.Duration.days(14),
                )
                self._alarm(
                    "ScheduleDeadLettersAlarm",
                    dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                    1,
                    "A scheduled job could not be delivered after retries; inspect the dead-letter queue",
                )
            function = lambda_.Function.from_function_attributes(
                self, f"{lid}Target", function_arn=resource.get_att("Arn").to_string(), same_environment=True
            )
            events.Rule(
                self,
                f"{lid}Schedule",
                schedule=events.Schedule.expression(job.expression),
                description=job.description,
                targets=[targets.LambdaFunction(
                    function, dead_letter_queue=dlq, retry_attempts=2, max_event_age=cdk.Duration.hours(2)
                )],
            )
            scheduled.append(job)
        return scheduled, unscheduled

    # -- the fan-out job queue (chalicelib/services/fanout.py) --------------------------------------------------

    def _job_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        """The job queue and its dead-letter queue: encrypted, TLS only, redrive after JOB_WORKER.max_receives."""
        dead_letters = sqs.Queue(
            self, "JobDeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        queue = sqs.Queue(
            self, "JobQueue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            # AWS: at least six times the worker's timeout, so a slow invocation is never delivered twice meanwhile
            visibility_timeout=cdk.Duration.seconds(6 * JOB_WORKER.timeout_seconds),
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=JOB_WORKER.max_receives),
        )
        return queue, dead_letters

    def _job_worker(self) -> None:
        """Point chalice's `on_sqs_message` event at the stack's queue and report partial batch failures: chalice
        packages the SQS event without FunctionResponseTypes, so without this override a single failed message
        would make Lambda deliver the whole batch again."""
        self.role_can_use_job_queues()
        lid = to_cfn_resource_name(JOB_WORKER.handler)
        if lid not in self.function_ids:
            return
        events_ = self.sam_resources[lid]["Properties"].get("Events", {})
        [event] = [name for name, ev in events_.items() if ev.get("Type") == "SQS"]
        worker = self._function(lid)
        worker.add_property_override(f"Events.{event}.Properties.Queue", self.job_queue.queue_arn)
        worker.add_property_override(f"Events.{event}.Properties.FunctionResponseTypes", ["ReportBatchItemFailures"])
        worker.add_property_override(f"Events.{event}.Properties.ScalingConfig",
                                     {"MaximumConcurrency": self.params.job_worker_concurrency})
        worker.add_property_override("Timeout", JOB_WORKER.timeout_seconds)

    def role_can_use_job_queues(self) -> None:
        self.lambda_role.add_to_policy(iam.PolicyStatement(
            sid="JobQueueConsume",  # the worker's event source mapping polls with the function's role
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                     "sqs:GetQueueAttributes"],
            resources=[self.job_queue.queue_arn],
        ))
        self.lambda_role.add_to_policy(iam.PolicyStatement(
            sid="JobQueueSend",  # runs enqueue; the worker re-enqueues failed items and parks the hopeless ones
            actions=["sqs:SendMessage"],
            resources=[self.job_queue.queue_arn, self.job_dead_letters.queue_arn],
        ))

    # -- operations ------------------------------------------------------------------------------------------

    def _document_upload_events(self) -> None:
        """The documents bucket tells the app's `document_uploaded` function of each object created under claims/,
        which verifies it (API.md v1.1: a client that never calls …/verify still completes its claim)."""
        lid = to_cfn_resource_name("document_uploaded")
        if lid not in self.function_ids:
            return
        function = lambda_.Function.from_function_attributes(
            self, f"{lid}Target", function_arn=self._function(lid).get_att("Arn").to_string(), same_environment=True
        )
        self.documents_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(function), s3.NotificationKeyFilter(prefix="claims/")
        )

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(self, "AlarmTopic", master_key=self.data_key, enforce_ssl=True)
        # CloudWatch publishes to the encrypted topic, so it needs the key.
        self.data_key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))
        if self.params.alarm_email:
            topic.add_subscription(subs.EmailSubscription(self.params.alarm_email))
        return topic

    def _alarm(self, construct_id: str, metric: cw.IMetric, threshold: float, description: str) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        return alarm

    def _alarms(self) -> None:
        p = self.params
        if "RestAPI" in self.sam_resources:
            self._alarm(
                "Api5xxAlarm",
                cw.Metric(
                    namespace="AWS/ApiGateway", metric_name="5XXError",
                    dimensions_map={"ApiName": f"{APP_NAME}-{p.name}", "Stage": API_GATEWAY_STAGE},
                    statistic="Sum", period=FIVE_MINUTES,
                ),
                p.api_5xx_threshold,
                "API returned 5xx responses: members cannot enrol or claim",
            )
        for lid in self.function_ids:
            name = self._function(lid).ref
            for metric_name, threshold, what in (
                ("Errors", p.lambda_error_threshold, "raised unhandled errors"),
                ("Throttles", 1, "was throttled: raise reserved/account concurrency"),
            ):
                self._alarm(
                    f"{lid}{metric_name}Alarm",
                    cw.Metric(namespace="AWS/Lambda", metric_name=metric_name, dimensions_map={"FunctionName": name},
                              statistic="Sum", period=FIVE_MINUTES),
                    threshold,
                    f"Lambda {lid} {what}",
                )
        self._alarm(
            "JobDeadLettersAlarm",
            self.job_dead_letters.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES,
                                                                                statistic="Maximum"),
            1,
            "Job items failed every attempt or a job message could not be handled: inspect the job dead-letter queue",
        )
        self._alarm(
            "JobQueueAgeAlarm",
            self.job_queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            JOB_WORKER.oldest_message_alarm_seconds,
            "A job message has waited too long: the worker is failing, throttled or out of concurrency",
        )
        for metric_name in ("ReadThrottleEvents", "WriteThrottleEvents"):
            self._alarm(
                f"Table{metric_name}Alarm",
                self.table.metric(metric_name, statistic="Sum", period=FIVE_MINUTES),
                1,
                f"DynamoDB table {metric_name}: pre-warm or shard hot keys (docs/deploy.md)",
            )
        for index_name in self.schema.GSIS:
            # A throttled GSI back-pressures every write to the base table.
            self._alarm(
                f"{index_name}WriteThrottleEventsAlarm",
                cw.Metric(
                    namespace="AWS/DynamoDB", metric_name="WriteThrottleEvents",
                    dimensions_map={"TableName": self.table.table_name, "GlobalSecondaryIndexName": index_name},
                    statistic="Sum", period=FIVE_MINUTES,
                ),
                1,
                f"DynamoDB index {index_name} write throttling (hot GSI partition?)",
            )

    # -- account security (issue #10): security events, one error shape, WAF rate rules ---------------------

    def _account_security(self) -> None:
        self._security_event_alarm()
        if "RestAPI" in self.sam_resources:
            self._gateway_responses()
            self._waf()

    def _security_event_alarm(self) -> None:
        """chalicelib/services/limits.py logs `{"security_event": ...}` lines (no personal data): count them."""
        for lid in self.function_ids:
            group = self.node.find_child(f"{lid}LogGroup")
            logs.MetricFilter(
                self, f"{lid}SecurityEvents", log_group=group,  # type: ignore[arg-type]
                metric_namespace=f"{APP_NAME}/{self.params.name}/security", metric_name="SecurityEvents",
                filter_pattern=logs.FilterPattern.exists("$.security_event"), metric_value="1", default_value=0,
            )
        self._alarm(
            "SecurityEventsAlarm",
            cw.Metric(namespace=f"{APP_NAME}/{self.params.name}/security", metric_name="SecurityEvents",
                      statistic="Sum", period=FIVE_MINUTES),
            self.params.security_events_threshold,
            "Throttled identity binding or login attempts (guessing, SMS flooding): look at the security_event lines",
        )

    def _reconciliation_alarm(self) -> None:
        """The daily reconciliations (对账: the payout gateway's statement, the 医保 platform's account statement) log
        each difference they cannot explain as a `{"reconciliation_difference": <which>}` line (no personal data):
        any one is a staff matter the same morning."""
        for lid in self.function_ids:
            group = self.node.find_child(f"{lid}LogGroup")
            logs.MetricFilter(
                self, f"{lid}ReconciliationDifferences", log_group=group,  # type: ignore[arg-type]
                metric_namespace=f"{APP_NAME}/{self.params.name}/reconciliation",
                metric_name="ReconciliationDifferences",
                filter_pattern=logs.FilterPattern.exists("$.reconciliation_difference"), metric_value="1",
                default_value=0,
            )
        self._alarm(
            "ReconciliationDifferencesAlarm",
            cw.Metric(namespace=f"{APP_NAME}/{self.params.name}/reconciliation",
                      metric_name="ReconciliationDifferences", statistic="Sum", period=FIVE_MINUTES),
            1,
            "A reconciliation found money we cannot explain (a transfer or deduction for nothing of ours, or an amount "
            "that differs): look at the reconciliation_difference lines",
        )

    def _gateway_responses(self) -> None:
        """API Gateway's own answers in the contract's error body (API.md v1.1). A method a resource lacks is
        API Gateway's MISSING_AUTHENTICATION_TOKEN as well, so it answers 404 too (chalice's 405 needs the
        route to exist)."""
        origin = self.params.cors_origin
        headers = {"Cache-Control": "'no-store'"}
        if origin:
            headers["Access-Control-Allow-Origin"] = f"'{origin}'"

        def body(code: str, message: str, details: dict | None = None) -> dict:
            return {"application/json": json.dumps({"code": code, "message": message, "details": details or {}},
                                                   ensure_ascii=False)}

        responses = {
            "MISSING_AUTHENTICATION_TOKEN": ("404", body("ROUTE_NOT_FOUND", "接口不存在。")),
            "RESOURCE_NOT_FOUND": ("404", body("ROUTE_NOT_FOUND", "接口不存在。")),
            "UNSUPPORTED_MEDIA_TYPE": ("415", body("UNSUPPORTED_MEDIA_TYPE",
                                                   "请求内容类型不受支持,请以 application/json 提交。")),
            "THROTTLED": ("429", body("RATE_LIMITED", "操作过于频繁,请 1 秒后再试。", {"retry_after": 1})),
            "QUOTA_EXCEEDED": ("429", body("RATE_LIMITED", "操作过于频繁,请 60 秒后再试。", {"retry_after": 60})),
            "WAF_FILTERED": ("429", body("RATE_LIMITED", "操作过于频繁,请 300 秒后再试。", {"retry_after": 300})),
            "REQUEST_TOO_LARGE": ("413", body("REQUEST_TOO_LARGE", "请求内容过大。")),
            "DEFAULT_4XX": (None, body("BAD_REQUEST", "请求无法处理,请检查后重试。")),
            "DEFAULT_5XX": (None, body("INTERNAL_ERROR", "系统繁忙,请稍后再试。")),
        }
        retry = {"THROTTLED": "'1'", "QUOTA_EXCEEDED": "'60'", "WAF_FILTERED": "'300'"}
        gateway = {}
        for kind, (status, templates) in responses.items():
            response = {"ResponseParameters": {"Headers": {**headers, **({"Retry-After": retry[kind]}
                                                                         if kind in retry else {})}},
                        "ResponseTemplates": templates}
            if status:
                response["StatusCode"] = status
            gateway[kind] = response
        self._function("RestAPI").add_property_override("GatewayResponses", gateway)

    def _waf(self) -> None:
        """Per-address rate rules in front of the API (counted over 5 minutes by WAF): a high one for everything
        (carrier-grade NAT puts many residents behind one address) and a lower one for the SMS login routes.
        A blocked client gets the contract's 429 body."""
        p = self.params
        body_key = "RateLimited"

        def rule(name: str, priority: int, limit: int, path: str | None) -> wafv2.CfnWebACL.RuleProperty:
            statement: dict = {"limit": limit, "aggregate_key_type": "IP"}
            if path:
                statement["scope_down_statement"] = wafv2.CfnWebACL.StatementProperty(
                    byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                        positional_constraint="STARTS_WITH", search_string=path,
                        text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]))
            return wafv2.CfnWebACL.RuleProperty(
                name=name, priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(**statement)),
                action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                        response_code=429, custom_response_body_key=body_key,
                        response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After",
                                                                                  value="300")]))),
                visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                    cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=False))

        acl = wafv2.CfnWebACL(
            self, "ApiWebAcl", scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={body_key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON",
                content='{"code": "RATE_LIMITED", "message": "操作过于频繁,请 300 秒后再试。", '
                        '"details": {"retry_after": 300}}')},
            rules=[rule("PerAddress", 0, p.waf_address_limit, None),
                   rule("PerAddressSmsLogin", 1, p.waf_sms_address_limit, f"/{API_GATEWAY_STAGE}/v1/auth/sms")],
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=f"{APP_NAME}-{p.name}-waf",
                sampled_requests_enabled=False),
        )
        stage_arn = cdk.Fn.sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/" + API_GATEWAY_STAGE)
        association = wafv2.CfnWebACLAssociation(self, "ApiWebAclAssociation", resource_arn=stage_arn,
                                                 web_acl_arn=acl.attr_arn)
        association.add_override("DependsOn", ["RestAPI"])
        self.web_acl = acl

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
        cdk.CfnOutput(self, "DocumentsBucketName", value=self.documents_bucket.bucket_name)
        cdk.CfnOutput(self, "WeChatPaySecretName", value=f"{APP_NAME}/{self.params.name}/wechatpay")
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)

    # -- cdk-nag ---------------------------------------------------------------------------------------------

    def _nag_suppressions(self) -> None:
        def suppress(construct: Construct, rule: str, reason: str, applies_to: list[str] | None = None) -> None:
            NagSuppressions.add_resource_suppressions(
                construct, [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)], apply_to_children=True
            )

        role_policy = self.lambda_role.node.find_child("DefaultPolicy")
        table_id = self.resolve(self.table.table_arn)["Fn::GetAtt"][0]
        bucket_id = self.resolve(self.documents_bucket.bucket_arn)["Fn::GetAtt"][0]
        suppress(
            role_policy, "AwsSolutions-IAM5",
            "Query on the table's own GSIs (GSI1..GSI4 of chalicelib/adapters/schema.py); index/* covers exactly "
            "those, no other table.",
            [f"Resource::<{table_id}.Arn>/index/*"],
        )
        suppress(
            role_policy, "AwsSolutions-IAM5",
            "Get/Put of member documents whose keys are minted per claim at run time; limited to the one "
            "documents bucket and to GetObject/PutObject (no delete, no list).",
            [f"Resource::<{bucket_id}.Arn>/*"],
        )
        if self.node.try_find_child("ApiGatewayCloudWatchRole"):
            suppress(
                self.node.find_child("ApiGatewayCloudWatchRole"), "AwsSolutions-IAM4",
                "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy for the account-level API Gateway "
                "logging role; it is assumable only by apigateway.amazonaws.com and grants only CloudWatch Logs writes.",
                ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"],
            )
        if self.node.try_find_child("ScheduleDeadLetters"):
            suppress(
                self.node.find_child("ScheduleDeadLetters"), "AwsSolutions-SQS3",
                "This queue is itself the dead-letter queue of the EventBridge schedule targets (cdk-nag only "
                "recognises SQS-to-SQS redrive); it is alarmed on any visible message.",
            )
        suppress(
            self.job_dead_letters, "AwsSolutions-SQS3",
            "This queue is itself the job queue's dead-letter queue; it is alarmed on any visible message.",
        )
        for child in self.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):  # CDK's singleton for bucket notifications
                suppress(
                    child, "AwsSolutions-IAM4",
                    "CDK's own bucket-notification handler (a deploy-time custom resource that only configures the "
                    "documents bucket's upload event) uses AWSLambdaBasicExecutionRole for its logs.",
                    ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                )
                suppress(
                    child, "AwsSolutions-IAM5",
                    "CDK's bucket-notification handler needs s3:PutBucketNotification; CDK scopes it as it generates it.",
                )
        for secret, why in (
            (self.app_secret, "Token signing key rotation needs a dual-key overlap window handled by the app; "
                              "it is rotated by the runbook procedure, not a rotation Lambda."),
            (self.id_keys_secret, "Rotating the ID hashing key would orphan every stored ID hash, and the wrapped data "
                                  "key is re-wrapped by KMS key rotation itself; this secret must never rotate."),
            (self.wechatpay_secret, "The merchant key, APIv3 key and platform certificate are issued and rotated in "
                                    "the WeChat Pay merchant platform; the operator writes the new values here."),
            (self.staff_secret, "The staff signing key is shared with the insurer's staff identity service; both "
                                "sides must switch together, so it is rotated by the runbook, not a rotation Lambda."),
        ):
            suppress(secret, "AwsSolutions-SMG4", why)

