"""tools/moto_atomic.py: a cancelled transaction puts back exactly the items it touched — nothing else moves.

Runs against moto through boto3 (the session's patched moto world): the semantics moto's TransactWriteItems had —
conditions, all-or-nothing, one operation per item, cancellation reasons — are kept while the rollback stops copying
the whole table.
"""
from __future__ import annotations

import os
import threading

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture()
def ddb(aws):
    return boto3.client("dynamodb", region_name="cn-north-1")


@pytest.fixture()
def table_name(aws):
    return os.environ["HMB_TABLE"]


def key(pk: str, sk: str = "S") -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def item(pk: str, **attrs: int) -> dict:
    return {**key(pk), **{name: {"N": str(value)} for name, value in attrs.items()}}


def everything(ddb, table_name) -> dict[str, dict]:
    items = ddb.scan(TableName=table_name, ConsistentRead=True)["Items"]
    return {i["PK"]["S"]: i for i in items}


def put(table_name, it, condition=None):
    op = {"TableName": table_name, "Item": it}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def test_a_cancelled_transaction_restores_each_touched_item_and_nothing_else(ddb, table_name):
    for pk, v in (("updated", 1), ("deleted", 2), ("checked", 3), ("bystander", 4), ("overwritten", 5)):
        ddb.put_item(TableName=table_name, Item=item(pk, v=v, version=1))
    before = everything(ddb, table_name)

    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table_name, "Key": key("updated"), "UpdateExpression": "SET v = v + :one, w = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": table_name, "Key": key("deleted")}},
            put(table_name, item("created", v=9)),
            put(table_name, item("overwritten", v=50)),
            {"Update": {"TableName": table_name, "Key": key("upserted"), "UpdateExpression": "SET v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": table_name, "Key": key("checked"), "ConditionExpression": "v = :x",
                                "ExpressionAttributeValues": {":x": {"N": "999"}}}},
        ])

    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in err.value.response["CancellationReasons"]] == [
        "None", "None", "None", "None", "None", "ConditionalCheckFailed"]
    assert everything(ddb, table_name) == before


def test_a_condition_failing_early_still_undoes_the_writes_made_before_it(ddb, table_name):
    ddb.put_item(TableName=table_name, Item=item("marker", v=1))

    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            put(table_name, item("order", v=1)),
            put(table_name, item("marker", v=2), condition="attribute_not_exists(PK)"),
            put(table_name, item("policy", v=1)),
        ])

    assert everything(ddb, table_name) == {"marker": item("marker", v=1)}


def test_the_old_item_comes_back_in_the_cancellation_reason_when_asked(ddb, table_name):
    ddb.put_item(TableName=table_name, Item=item("marker", v=7))

    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[{"Put": {
            "TableName": table_name, "Item": item("marker", v=8), "ConditionExpression": "attribute_not_exists(PK)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])

    reason = err.value.response["CancellationReasons"][0]
    assert reason["Code"] == "ConditionalCheckFailed"
    assert reason["Item"]["v"] == {"N": "7"}


def test_two_operations_on_one_item_are_refused_and_nothing_is_written(ddb, table_name):
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[
            put(table_name, item("a", v=1)),
            put(table_name, item("b", v=1)),
            {"Delete": {"TableName": table_name, "Key": key("b")}},
        ])

    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert everything(ddb, table_name) == {}


def test_a_successful_transaction_applies_every_operation(ddb, table_name):
    ddb.put_item(TableName=table_name, Item=item("counter", n=1))

    ddb.transact_write_items(TransactItems=[
        put(table_name, item("order", v=1), condition="attribute_not_exists(PK)"),
        {"Update": {"TableName": table_name, "Key": key("counter"), "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])

    assert everything(ddb, table_name) == {"order": item("order", v=1), "counter": item("counter", n=2)}


def test_writes_committed_by_other_threads_survive_a_cancelled_transaction(ddb, table_name):
    """moto as shipped restored a whole-table copy on cancellation, erasing what other threads wrote meanwhile."""
    ddb.put_item(TableName=table_name, Item=item("taken", v=1))
    writers, per_writer = 4, 40
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        client = boto3.client("dynamodb", region_name="cn-north-1")
        start.wait()
        try:
            for i in range(per_writer):
                client.put_item(TableName=table_name, Item=item(f"w{n}-{i}", v=i))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    start.wait()
    cancelled = 0
    for i in range(per_writer):
        try:
            ddb.transact_write_items(TransactItems=[
                put(table_name, item(f"loser-{i}", v=i)),
                put(table_name, item("taken", v=2), condition="attribute_not_exists(PK)"),
            ])
        except ClientError:
            cancelled += 1
    for t in threads:
        t.join()

    stored = everything(ddb, table_name)
    assert errors == []
    assert cancelled == per_writer
    assert not any(pk.startswith("loser-") for pk in stored)
    assert {f"w{n}-{i}" for n in range(writers) for i in range(per_writer)} <= stored.keys()
    assert stored["taken"] == item("taken", v=1)


def test_the_rollback_copies_only_the_touched_items(ddb, table_name, monkeypatch):
    import copy

    from moto.dynamodb.models.table import Table

    for i in range(50):
        ddb.put_item(TableName=table_name, Item=item(f"i{i}", v=i))
    tables_copied = []
    real_deepcopy = copy.deepcopy

    def watching(value, memo=None):
        if isinstance(value, Table):
            tables_copied.append(value)
        return real_deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", watching)

    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            put(table_name, item("i1", v=100)),
            put(table_name, item("i2", v=200), condition="attribute_not_exists(PK)"),
        ])

    assert tables_copied == []
    assert everything(ddb, table_name)["i1"] == item("i1", v=1)
