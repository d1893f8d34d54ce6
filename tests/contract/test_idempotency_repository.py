"""The idempotency repository's contract, run against the DynamoDB repository (moto table) and its in-memory twin
(the chalice todo-app tests/test_db.py pattern)."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.repositories.idempotency import (
    IdempotencyRepository,
    InMemoryIdempotencyRepository,
    new_record,
)
from chalicelib.domain.errors import Conflict
from chalicelib.services import idempotency

NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


def transact(repo, ops) -> None:
    """One transaction in the repository's world: the table's, or the twins' shared store's."""
    (repo.table if hasattr(repo, "table") else repo.store).transact(ops)


class IdempotencyRepositoryContract:
    def test_a_record_reads_back_as_it_was_saved(self, repo):
        record = new_record("acct-1#orders", "k1", "rh", NOW, "completed", status_code=201, response='{"a": 1}',
                            resource_id="ORD1")
        repo.save(record)
        assert repo.get("acct-1#orders", "k1") == record
        assert repo.get("acct-1#orders", "k2") is None
        assert repo.get("acct-2#orders", "k1") is None

    def test_a_retry_of_the_same_body_gets_the_first_answer(self, repo):
        repo.save(new_record("s", "k1", "rh", NOW, "completed", status_code=201, response='{"order_id": "ORD1"}'))
        assert idempotency.lookup(repo, "s", "k1", "rh") == {"status": 201, "body": {"order_id": "ORD1"}}
        assert idempotency.lookup(repo, "s", "k-new", "rh") is None

    def test_another_body_or_a_running_request_is_refused(self, repo):
        repo.save(new_record("s", "k1", "rh", NOW, "completed", status_code=201, response="{}"))
        repo.save(new_record("s", "k2", "rh", NOW, "in_progress", resource_id="ORD2"))
        with pytest.raises(Conflict) as reused:
            idempotency.lookup(repo, "s", "k1", "other")
        with pytest.raises(Conflict) as running:
            idempotency.lookup(repo, "s", "k2", "rh")
        assert (reused.value.code, running.value.code) == ("IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_IN_FLIGHT")
        assert running.value.details["resource_id"] == "ORD2"

    def test_a_claimed_key_completes_once_and_a_released_one_is_free_again(self, repo):
        from chalicelib.adapters.dynamodb import ConditionFailed

        transact(repo, [repo.in_progress_op("s", "k1", "rh", NOW, "ORD1")])
        with pytest.raises(ConditionFailed):
            transact(repo, [repo.in_progress_op("s", "k1", "rh", NOW, "ORD1")])
        with pytest.raises(ConditionFailed):
            transact(repo, [repo.completed_op("s", "k1", "other", NOW, 201, {}, reserved=True)])
        transact(repo, [repo.completed_op("s", "k1", "rh", NOW, 201, {"ok": True}, "ORD1", reserved=True)])
        assert idempotency.lookup(repo, "s", "k1", "rh") == {"status": 201, "body": {"ok": True}}
        transact(repo, [repo.in_progress_op("s", "k2", "rh", NOW, "ORD2")])
        transact(repo, [repo.release_op("s", "k2", "rh")])
        assert repo.get("s", "k2") is None


class TestDynamoIdempotencyRepository(IdempotencyRepositoryContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return IdempotencyRepository(deps.table())


class TestInMemoryIdempotencyRepository(IdempotencyRepositoryContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryIdempotencyRepository()
