"""moto's TransactWriteItems cost against the table size: as shipped (a whole-table deep copy per transaction, for
its rollback) and with tools/moto_atomic.py (a journal of the touched items only).

Each transaction is the shape of an issuing one: a conditional Put of a new item, an ADD on a counter item and a
ConditionCheck on a third — through boto3, moto's request parsing and its backend, in this process (`mock_aws`).
The table is filled directly through moto's backend with items of the policy's size (GSI keys and ~10 attributes).
Cost per transaction is the median of BENCH_TX (200) transactions after the fill; moto as shipped is measured over
a few transactions only (one costs seconds at 50 000 items). Goal: flat from 1 000 to 50 000 items.
"""
from __future__ import annotations

import os
import statistics
import time
import uuid

SIZES = (1_000, 10_000, 50_000)
TRANSACTIONS = int(os.environ.get("BENCH_TX", "200"))
STOCK_TRANSACTIONS = {1_000: 10, 10_000: 2, 50_000: 1}
TABLE = "bench-moto-scaling"
REGION = "cn-north-1"


def _item(n: int) -> dict:
    pk = f"POLICY#{n:08d}"
    return {"PK": {"S": pk}, "SK": {"S": "POLICY"}, "GSI1PK": {"S": f"PERSON#{uuid.uuid4().hex}"},
            "GSI1SK": {"S": f"POLICY#lishui-2021#{pk}"}, "GSI2PK": {"S": f"ACCOUNT#{n % 997}"},
            "GSI2SK": {"S": f"POLICY#2021-01-15T10:00:00+08:00#{pk}"}, "plan_id": {"S": "lishui-2021"},
            "status": {"S": "active"}, "premium_fen": {"N": "10000"}, "county": {"S": "331102"},
            "benefit_start": {"S": "2021-01-16"}, "payment_method": {"S": "personal_account"},
            "version": {"N": "1"}, "created_at": {"S": "2021-01-15T10:00:00+08:00"}}


def _fill(backend, upto: int, start: int) -> None:
    for n in range(start, upto):
        backend.put_item(TABLE, _item(n))


def _transaction(client, i: int) -> None:
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {"PK": {"S": f"ORDER#{uuid.uuid4().hex}"}, "SK": {"S": "ORDER"},
                                              "n": {"N": str(i)}},
                 "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Update": {"TableName": TABLE, "Key": {"PK": {"S": "COUNTER"}, "SK": {"S": "COUNTER"}},
                    "UpdateExpression": "ADD issued :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": TABLE, "Key": {"PK": {"S": "POLICY#00000007"}, "SK": {"S": "POLICY"}},
                            "ConditionExpression": "attribute_exists(PK)"}},
    ])


def _median_ms(client, count: int) -> float:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        _transaction(client, i)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure() -> dict[int, tuple[float, float]]:
    """{table size: (ms per transaction as shipped, ms per transaction journalled)}"""
    import boto3
    import moto
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.adapters import schema
    from tools.moto_atomic import make_dynamodb_atomic, stock_rollback

    make_dynamodb_atomic()
    env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_DYNAMODB")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    results: dict[int, tuple[float, float]] = {}
    try:
        with moto.mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(**schema.create_table_kwargs(TABLE))
            backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
            filled = 0
            for size in SIZES:
                _fill(backend, size, filled)
                filled = size
                _median_ms(client, 5)  # warm-up
                with stock_rollback():
                    stock = _median_ms(client, STOCK_TRANSACTIONS[size])
                results[size] = (stock, _median_ms(client, TRANSACTIONS))
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return results


def run() -> dict[str, str]:
    results = measure()
    rows = {f"3-item transaction at {size:,} items (moto as shipped → journalled)": f"{stock:.1f} ms → {mine:.2f} ms"
            for size, (stock, mine) in results.items()}
    small, large = results[SIZES[0]][1], results[SIZES[-1]][1]
    rows[f"journalled cost ratio {SIZES[-1]:,} / {SIZES[0]:,} items (goal ≈ 1)"] = f"{large / small:.2f}"
    return rows


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric}: {value}")
