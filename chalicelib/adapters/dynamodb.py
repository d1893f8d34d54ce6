"""The only code that talks to DynamoDB. Items are plain dicts; keys come from keys.py.

The low-level client is used (not the resource) so that transactions, conditions and round trips stay explicit.
boto3 is imported on first use, never at import time.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters import schema


class ConditionFailed(Exception):
    """A conditional write or transaction was refused. `reasons` lists per-item codes for transactions."""

    def __init__(self, reasons: list[str] | None = None) -> None:
        self.reasons = reasons or []
        super().__init__(f"condition failed: {self.reasons}")


class TransientStorageError(Exception):
    """Throttling or a transaction conflict: safe to retry with the same idempotency key."""


@dataclass
class TxOp:
    """One item of a TransactWriteItems call."""

    kind: str  # Put | Update | Delete | ConditionCheck
    key: dict[str, str] | None = None
    item: dict[str, Any] | None = None
    condition: str | None = None
    update: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def put(cls, item: dict[str, Any], condition: str | None = "attribute_not_exists(PK)", **kw: Any) -> TxOp:
        return cls("Put", item=item, condition=condition, **kw)

    @classmethod
    def update_item(cls, key: dict[str, str], update: str, condition: str | None = None, **kw: Any) -> TxOp:
        return cls("Update", key=key, update=update, condition=condition, **kw)

    @classmethod
    def delete(cls, key: dict[str, str], condition: str | None = None, **kw: Any) -> TxOp:
        return cls("Delete", key=key, condition=condition, **kw)

    @classmethod
    def check(cls, key: dict[str, str], condition: str, **kw: Any) -> TxOp:
        return cls("ConditionCheck", key=key, condition=condition, **kw)


_lock = threading.Lock()
_clients: dict[tuple, Any] = {}


def dynamodb_client(region: str):
    """A cached boto3 client (built lazily; honours AWS_ENDPOINT_URL_DYNAMODB for the local sandbox)."""
    import os

    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    cache_key = (region, endpoint)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                "dynamodb",
                region_name=region,
                endpoint_url=endpoint,
                config=Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=5),
            )
            _clients[cache_key] = client
    return client


def reset_clients() -> None:
    with _lock:
        _clients.clear()


class Table:
    def __init__(self, client, table_name: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.name = table_name
        self.transaction_attempts = 4  # a transaction cancelled by a conflict is sent again, up to this many times
        self.pause = _jittered_pause
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # ---- (de)serialisation --------------------------------------------------------------------------------
    def _dump(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in item.items() if v is not None}

    def _load(self, raw: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        return {k: _plain(self._de.deserialize(v)) for k, v in raw.items()}

    def _values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in values.items()}

    # ---- single items -------------------------------------------------------------------------------------
    def get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        resp = self.client.get_item(TableName=self.name, Key=self._dump(key), ConsistentRead=consistent)
        return self._load(resp.get("Item"))

    def batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        pending = [self._dump(k) for k in keys]
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request = {self.name: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                out.extend(self._load(i) for i in resp["Responses"].get(self.name, []))
                request = resp.get("UnprocessedKeys") or {}
        return out

    def put(self, item: dict[str, Any], condition: str | None = None, names=None, values=None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": self._dump(item)}
        self._conditions(kwargs, condition, names, values)
        self._call(self.client.put_item, **kwargs)

    def update(self, key, update: str, condition: str | None = None, names=None, values=None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": self._dump(key), "UpdateExpression": update,
                                  "ReturnValues": "ALL_NEW"}
        self._conditions(kwargs, condition, names, values)
        resp = self._call(self.client.update_item, **kwargs)
        return self._load(resp.get("Attributes")) or {}

    def delete(self, key, condition: str | None = None, names=None, values=None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": self._dump(key)}
        self._conditions(kwargs, condition, names, values)
        self._call(self.client.delete_item, **kwargs)

    def _conditions(self, kwargs, condition, names, values) -> None:
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = self._values(values)

    def _call(self, fn, **kwargs):
        from botocore.exceptions import ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(["ConditionalCheckFailed"]) from exc
            if code in {"ProvisionedThroughputExceededException", "ThrottlingException",
                        "TransactionConflictException", "RequestLimitExceeded"}:
                raise TransientStorageError(code) from exc
            raise

    # ---- queries ------------------------------------------------------------------------------------------
    def query(self, pk_name: str, pk: str, *, index: str | None = None, sk_name: str | None = None,
              sk_prefix: str | None = None, sk_between: tuple[str, str] | None = None, forward: bool = True,
              limit: int | None = None, start: dict | None = None) -> tuple[list[dict[str, Any]], dict | None]:
        """One page of a query; returns (items, last_evaluated_key)."""
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk}
        expr = "#pk = :pk"
        if sk_prefix is not None or sk_between is not None:
            names["#sk"] = sk_name or schema.SORT_KEY
            if sk_prefix is not None:
                expr += " AND begins_with(#sk, :skp)"
                values[":skp"] = sk_prefix
            else:
                expr += " AND #sk BETWEEN :lo AND :hi"
                values[":lo"], values[":hi"] = sk_between  # type: ignore[misc]
        kwargs: dict[str, Any] = {"TableName": self.name, "KeyConditionExpression": expr,
                                  "ExpressionAttributeNames": names,
                                  "ExpressionAttributeValues": self._values(values), "ScanIndexForward": forward}
        if index:
            kwargs["IndexName"] = index
        if limit:
            kwargs["Limit"] = limit
        if start:
            kwargs["ExclusiveStartKey"] = self._dump(start)
        resp = self._call(self.client.query, **kwargs)
        items = [self._load(i) for i in resp.get("Items", [])]
        last = self._load(resp.get("LastEvaluatedKey")) if resp.get("LastEvaluatedKey") else None
        return items, last  # type: ignore[return-value]

    def query_all(self, pk_name: str, pk: str, **kw: Any) -> Iterator[dict[str, Any]]:
        start = None
        while True:
            items, start = self.query(pk_name, pk, start=start, **kw)
            yield from items
            if not start:
                return

    # ---- transactions -------------------------------------------------------------------------------------
    def transact(self, ops: Iterable[TxOp]) -> None:
        """One TransactWriteItems; raises ConditionFailed with the per-item cancellation reasons."""
        from botocore.exceptions import ClientError

        items = []
        for op in ops:
            body: dict[str, Any] = {"TableName": self.name}
            if op.kind == "Put":
                body["Item"] = self._dump(op.item or {})
            else:
                body["Key"] = self._dump(op.key or {})
            if op.update:
                body["UpdateExpression"] = op.update
            if op.condition:
                body["ConditionExpression"] = op.condition
            if op.names:
                body["ExpressionAttributeNames"] = op.names
            if op.values:
                body["ExpressionAttributeValues"] = self._values(op.values)
            items.append({op.kind: body})
        for attempt in range(self.transaction_attempts):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                error = _transaction_error(exc)
                if error is exc:
                    raise
                # A cancellation for a conflict with another transaction (hot counters at a launch peak) applied
                # nothing: it is safe to send again, after a short jittered pause.
                if not isinstance(error, _Conflicted) or attempt == self.transaction_attempts - 1:
                    raise (error.as_transient() if isinstance(error, _Conflicted) else error) from exc
                self.pause(attempt)


class _Conflicted(Exception):
    def as_transient(self) -> TransientStorageError:
        return TransientStorageError(str(self))


def _transaction_error(exc) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "TransactionCanceledException":
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if not reasons:  # moto puts the reasons only in the message
            msg = exc.response.get("Error", {}).get("Message", "")
            if "[" in msg:
                reasons = [r.strip() for r in msg[msg.index("[") + 1: msg.rindex("]")].split(",")]
        if any(r == "ConditionalCheckFailed" for r in reasons):
            return ConditionFailed(reasons)
        if any(r == "TransactionConflict" for r in reasons):
            return _Conflicted(code)
        return TransientStorageError(code)
    if code in {"TransactionConflictException", "TransactionInProgressException"}:
        return _Conflicted(code)
    if code in {"ProvisionedThroughputExceededException", "ThrottlingException"}:
        return TransientStorageError(code)
    return exc


def _jittered_pause(attempt: int) -> None:
    import random
    import time

    time.sleep(random.uniform(0.005, 0.025) * (2 ** attempt))


def _plain(value: Any) -> Any:
    """Decimal → int (we store only integers and strings; ratios are strings)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
