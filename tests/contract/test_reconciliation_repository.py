"""Reconciliation differences (对账差异), DynamoDB (moto) and the in-memory twin alike: each (day, kind, key) is
stored once, a day's differences read back together and no other day's."""
from __future__ import annotations

import pytest

from chalicelib.domain.reconciliation import ReconciliationDifference


def a_difference(kind: str = "amount_differs", key: str = "ORD1-current", day: str = "2020-12-15",
                 **changes) -> ReconciliationDifference:
    fields = dict(day=day, kind=kind, entry_kind="deduction", idempotency_key=key, ours_fen=10000, platform_fen=1,
                  order_id="ORD1", plan_id="lishui-2021", city="331100", found_at="2020-12-16T03:30:00+08:00")
    return ReconciliationDifference(**{**fields, **changes})


@pytest.fixture(params=["dynamodb", "memory"])
def repo(request):
    if request.param == "memory":
        from chalicelib.adapters.repositories.reconciliation import InMemoryReconciliationDifferences

        return InMemoryReconciliationDifferences()
    request.getfixturevalue("aws")
    from chalicelib import deps
    from chalicelib.adapters.repositories.reconciliation import DynamoReconciliationDifferences

    return DynamoReconciliationDifferences(deps.table())


def test_a_difference_is_stored_once(repo):
    assert repo.add(a_difference()) is True
    assert repo.add(a_difference(found_at="2020-12-17T03:30:00+08:00")) is False  # a re-run finds it again
    assert repo.for_day("2020-12-15") == [a_difference()]


def test_a_days_differences_read_back_together_and_no_other_days(repo):
    missing = a_difference("deduction_missing", platform_fen=None)
    foreign = a_difference("not_ours", "someone-elses-key", ours_fen=None, order_id=None, plan_id=None, city=None)
    for diff in (missing, foreign, a_difference(day="2020-12-16")):
        assert repo.add(diff)
    assert repo.for_day("2020-12-15") == [missing, foreign]  # by kind, then key
    assert [d.day for d in repo.for_day("2020-12-16")] == ["2020-12-16"]
    assert repo.for_day("2020-12-14") == []


def test_the_same_key_under_another_kind_is_another_difference(repo):
    assert repo.add(a_difference("amount_differs")) and repo.add(a_difference("refund_missing"))
    assert {d.kind for d in repo.for_day("2020-12-15")} == {"amount_differs", "refund_missing"}
