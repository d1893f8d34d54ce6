"""The one table's shape: read by the code, the tests, `make run` and the CDK stack.

Keep this module free of boto3 so the CDK app and the domain can import it cheaply.
"""
from __future__ import annotations

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at"

# Generic overloaded GSIs; what each holds is documented in docs/access-patterns.md and built in keys.py.
GSI_BY_PERSON = "GSI1"  # insured person (ID hash): policies, claims, authorisations granted
GSI_BY_ACCOUNT = "GSI2"  # account: orders and policies as payer, claims submitted
GSI_BY_STATUS = "GSI3"  # work queues: claims by status and decision due date, orders by status
GSI_BY_GRANTEE = "GSI4"  # authorisations by grantee phone; renewals by plan

GSIS: dict[str, tuple[str, str]] = {
    GSI_BY_PERSON: ("GSI1PK", "GSI1SK"),
    GSI_BY_ACCOUNT: ("GSI2PK", "GSI2SK"),
    GSI_BY_STATUS: ("GSI3PK", "GSI3SK"),
    GSI_BY_GRANTEE: ("GSI4PK", "GSI4SK"),
}


def attribute_definitions() -> list[dict[str, str]]:
    names = [PARTITION_KEY, SORT_KEY] + [n for pair in GSIS.values() for n in pair]
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def key_schema(pk: str = PARTITION_KEY, sk: str = SORT_KEY) -> list[dict[str, str]]:
    return [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]


def create_table_kwargs(table_name: str) -> dict:
    """Arguments for DynamoDB CreateTable (on-demand), used by tests and the local sandbox."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": key_schema(),
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {"IndexName": name, "KeySchema": key_schema(pk, sk), "Projection": {"ProjectionType": "ALL"}}
            for name, (pk, sk) in GSIS.items()
        ],
    }


def ensure_table(client, table_name: str) -> None:
    """Create the table (and its TTL) if missing. `client` is a boto3 DynamoDB client."""
    try:
        client.describe_table(TableName=table_name)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    client.create_table(**create_table_kwargs(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def ensure_bucket(client, bucket: str) -> None:
    """Create the documents bucket if missing. `client` is a boto3 S3 client."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        region = client.meta.region_name
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=bucket, **kwargs)
