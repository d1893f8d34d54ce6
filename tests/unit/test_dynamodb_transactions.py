"""Table.transact: conflicts are retried (nothing was applied), condition failures never are."""
import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import ConditionFailed, Table, TransientStorageError, TxOp


def cancelled(*reasons: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": r} for r in reasons]}, "TransactWriteItems")


class FakeClient:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def transact_write_items(self, TransactItems):  # noqa: N803 (boto3's name)
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def table(client) -> Table:
    t = Table(client, "t")
    t.pause = lambda attempt: None
    return t


OPS = [TxOp.put({"PK": "a", "SK": "b"})]


def test_a_conflict_with_another_transaction_is_sent_again():
    client = FakeClient(cancelled("None", "TransactionConflict"), cancelled("TransactionConflict", "None"))
    table(client).transact(OPS)
    assert client.calls == 3


def test_persistent_conflicts_end_as_a_transient_error():
    client = FakeClient(*[cancelled("TransactionConflict")] * 10)
    with pytest.raises(TransientStorageError):
        table(client).transact(OPS)
    assert client.calls == 4


def test_a_failed_condition_is_never_retried():
    client = FakeClient(cancelled("None", "ConditionalCheckFailed"))
    with pytest.raises(ConditionFailed) as err:
        table(client).transact(OPS)
    assert err.value.reasons == ["None", "ConditionalCheckFailed"]
    assert client.calls == 1
