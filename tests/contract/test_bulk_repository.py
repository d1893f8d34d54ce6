"""The bulk repository on the table (moto): the rows as stored and queued, a row's outcome with the person's cover
markers in one read, and the marker a row's policy writes — refused while anyone holds one."""
from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.adapters.repositories.bulk import BulkRepository
from chalicelib.adapters.repositories.orders import OrderRepository
from chalicelib.domain.bulk import RowRefusal, StoredRow
from chalicelib.domain.order import CoverMarker

BATCH = "BLK000000000000000000000001"


@pytest.fixture()
def repo(aws):
    from chalicelib import deps

    return BulkRepository(deps.table())


def test_stored_rows_read_back_as_they_were_put_across_chunks(repo):
    refused = RowRefusal(row=2, code="ID_NUMBER_INVALID", message="…", id_number_masked="3311**********1234")
    rows = [StoredRow(row=1, name="王建国", group="低保", id_hash="h1", id_enc="e1"), StoredRow(row=2, refusal=refused),
            *(StoredRow(row=n, name="某某", id_hash=f"h{n}", id_enc=f"e{n}") for n in range(3, 503))]

    chunks = repo.put_chunks(BATCH, rows, expires_at=2_000_000_000)

    assert chunks == 2
    assert list(repo.rows(BATCH, chunks)) == rows


def test_a_rows_outcome_and_the_persons_markers_come_back_by_plan(repo):
    table = repo.table
    table.transact(repo.outcome_ops(BATCH, "ELIGIBLE", 7))
    OrderRepository(table).save_cover(CoverMarker(plan_id="lishui-2021", order_id="ORD1", policy_id="POL1"), "h7")

    outcome, covers = repo.outcome_and_covers(BATCH, 7, "h7", ["lishui-2022", "lishui-2021"])

    assert outcome is not None and (outcome.row, outcome.code) == (7, "ELIGIBLE")
    assert covers == {"lishui-2021": CoverMarker(plan_id="lishui-2021", order_id="ORD1", policy_id="POL1")}
    assert repo.outcome_and_covers(BATCH, 8, None, ["lishui-2021"]) == (None, {})
    assert repo.outcome(BATCH, 7) == outcome


def test_a_rows_cover_marker_is_refused_while_anyone_holds_one(repo):
    table = repo.table
    marker = CoverMarker(plan_id="lishui-2022", order_id=BATCH, policy_id="POL1")
    table.transact([repo.new_cover_op(marker, "h1")])

    with pytest.raises(ConditionFailed):
        table.transact([repo.new_cover_op(marker.model_copy(update={"policy_id": "POL2"}), "h1")])
    assert repo.cover("lishui-2022", "h1") == marker
    assert repo.cover("lishui-2022", "h2") is None
