"""The disclosure counters' contract (the public report's read model), run against the DynamoDB repository (moto
table) and its in-memory twin."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.disclosure import DynamoDisclosureCounters, InMemoryDisclosureCounters
from chalicelib.domain.disclosure import Counts


class DisclosureCountersContract:
    def test_a_plan_without_counts_has_no_cells(self, counters):
        assert counters.cells("lishui-2021") == {}

    def test_increments_of_one_cell_sum_whatever_shard_they_land_in(self, counters):
        for order_id in ("ORD1", "ORD2", "ORD3", "ORD4"):
            counters.add("lishui-2021", "331102", "personal_account", order_id, Counts(enrolled=1, premium_fen=10000))
        counters.add("lishui-2021", "331102", "personal_account", "POL1",
                     Counts(enrolled=-1, premium_fen=-10000, cancelled=1))
        assert counters.cells("lishui-2021") == {
            ("331102", "personal_account"): Counts(enrolled=3, premium_fen=30000, cancelled=1)}

    def test_cells_are_per_county_channel_and_plan(self, counters):
        counters.add("lishui-2021", "331102", "personal_account", "ORD1", Counts(enrolled=1, premium_fen=10000))
        counters.add("lishui-2021", "331121", "wechat_pay", "ORD2", Counts(enrolled=1, premium_fen=10000))
        counters.add("lishui-2021", "331102", "wechat_pay", "CLM1", Counts(claims_paid=1, paid_fen=500))
        counters.add("lishui-2022", "331102", "personal_account", "ORD3", Counts(enrolled=1, premium_fen=12000))
        assert counters.cells("lishui-2021") == {
            ("331102", "personal_account"): Counts(enrolled=1, premium_fen=10000),
            ("331121", "wechat_pay"): Counts(enrolled=1, premium_fen=10000),
            ("331102", "wechat_pay"): Counts(claims_paid=1, paid_fen=500)}
        assert counters.cells("lishui-2022") == {("331102", "personal_account"): Counts(enrolled=1, premium_fen=12000)}


class TestDynamoDisclosureCounters(DisclosureCountersContract):
    @pytest.fixture()
    def counters(self, aws):
        from chalicelib import deps

        return DynamoDisclosureCounters(deps.table())


class TestInMemoryDisclosureCounters(DisclosureCountersContract):
    @pytest.fixture()
    def counters(self):
        return InMemoryDisclosureCounters()
