"""One contract per repository, run against the DynamoDB repository (moto table) and its in-memory twin — the chalice
todo-app tests/test_db.py pattern: a twin that passes the same tests cannot drift from the real thing."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.orders import InMemoryOrderRepository, OrderRepository
from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository, PolicyRepository
from chalicelib.domain.order import CoverMarker, Order, OrderInsured, PlannedDeduction, Refund
from chalicelib.domain.policy import Policy


def an_order(order_id: str = "ORD20201215100000AAAAAAAAAAAA", payer: str = "acct-1", status: str = "settling",
             created_at: str = "2020-12-15T10:00:00+08:00") -> Order:
    return Order(
        order_id=order_id, plan_id="lishui-2021", payer_account_id=payer, payer_hash="h-payer", payer_id_enc="enc",
        payment_method="personal_account", premium_fen=10000, amount_fen=20000, auto_renew=False,
        insured=[OrderInsured(ref="self", id_hash="h-self", id_enc="e1", name="王建国", who="您本人",
                              account_source="current", benefit_start="2021-01-01", waiting_rule="none",
                              platform={"city": "331100"}),
                 OrderInsured(ref="M1", id_hash="h-spouse", id_enc="e2", name="李秀英", relationship="spouse",
                              member_id="M1", who="您的配偶(第2位被保险人)", account_source="prior_years",
                              benefit_start="2021-01-01", waiting_rule="none")],
        policy_ids=[f"POL{order_id[3:]}01", f"POL{order_id[3:]}02"], status=status, created_at=created_at,
        updated_at=created_at, idempotency={"scope": f"{payer}#orders", "key": "k1", "request_hash": "rh"},
        deductions=[PlannedDeduction(key=f"{order_id}-current", source="current", amount_fen=10000),
                    PlannedDeduction(key=f"{order_id}-prior_years", source="prior_years", amount_fen=10000)])


def a_policy(policy_id: str = "POL1", plan_id: str = "lishui-2021", payer: str = "acct-1",
             insured_hash: str = "h-spouse", **changes) -> Policy:
    return Policy(policy_id=policy_id, plan_id=plan_id, order_id="ORD1", insured_hash=insured_hash,
                  insured_name="李秀英", insured_id_enc="e2", insured_member_id="M1", payer_account_id=payer,
                  payment_method="personal_account", account_source="prior_years", premium_fen=10000,
                  paid_at="2020-12-15T10:00:00+08:00", benefit_start="2021-01-01", coverage_end="2021-12-31",
                  waiting_rule="none", created_at="2020-12-15T10:00:00+08:00", county="331102", **changes)


class OrderRepositoryContract:
    """What every order repository does; subclasses provide `repo`."""

    def test_an_order_reads_back_as_it_was_saved(self, repo):
        order = an_order()
        repo.save(order)
        assert repo.get(order.order_id) == order

    def test_an_unknown_order_is_none(self, repo):
        assert repo.get("ORD-NOPE") is None

    def test_a_payer_sees_their_orders_newest_first_and_nobody_elses(self, repo):
        repo.save(an_order("ORD1", created_at="2020-12-15T10:00:00+08:00"))
        repo.save(an_order("ORD2", created_at="2020-12-16T10:00:00+08:00"))
        repo.save(an_order("ORD3", payer="acct-2"))
        assert [o.order_id for o in repo.for_payer("acct-1")] == ["ORD2", "ORD1"]
        assert [o.order_id for o in repo.for_payer("acct-1", limit=1)] == ["ORD2"]

    def test_the_work_queue_holds_only_orders_still_in_that_status(self, repo):
        repo.save(an_order("ORD1", status="settling"))
        repo.save(an_order("ORD2", status="paid"))
        repo.save(an_order("ORD3", status="refund_pending"))
        assert [o.order_id for o in repo.queued("settling")] == ["ORD1"]
        assert list(repo.queued("paid")) == []  # finished orders leave the queue (sparse index)
        repo.save(an_order("ORD1", status="paid"))
        assert list(repo.queued("settling")) == []

    def test_cover_markers_are_read_together_and_only_those_that_exist(self, repo):
        reserved = CoverMarker(plan_id="lishui-2021", state="reserved", order_id="ORD1", payer_account_id="acct-1",
                               pay_before="2020-12-15T10:30:00+08:00")
        issued = CoverMarker(plan_id="lishui-2021", state="issued", order_id="ORD0", policy_id="POL0")
        repo.save_cover(reserved, "h-self")
        repo.save_cover(issued, "h-spouse")
        found = repo.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse"), ("lishui-2022", "h-self")])
        assert found == {("lishui-2021", "h-self"): reserved, ("lishui-2021", "h-spouse"): issued}
        assert repo.covers([]) == {}

    def test_refunds_read_back_and_queue_while_pending(self, repo):
        refund = Refund(refund_id="RF1", policy_id="POL1", order_id="ORD1", payment_method="personal_account",
                        amount_fen=10000, status="refund_pending", created_at="2020-12-15T10:00:00+08:00",
                        deduction_key="ORD1-current")
        repo.save_refund(refund)
        assert repo.refund("RF1") == refund
        assert [r.refund_id for r in repo.queued_refunds("refund_pending")] == ["RF1"]
        repo.save_refund(refund.model_copy(update={"status": "refunded", "refunded_at": "2020-12-15T10:01:00+08:00"}))
        assert list(repo.queued_refunds("refund_pending")) == []
        assert repo.refund("RF404") is None

    def test_the_payment_ledger_lists_personal_account_orders_and_refunds_by_the_china_day_asked(self, repo):
        repo.save(an_order("ORD1", status="paid", created_at="2020-12-15T10:00:00+08:00"))
        repo.save(an_order("ORD2", status="failed", created_at="2020-12-15T23:59:59+08:00"))
        repo.save(an_order("ORD3", status="paid", created_at="2020-12-15T16:30:00+00:00"))  # 00:30 the 16th
        repo.save(an_order("ORD4", status="paid").model_copy(update={"payment_method": "wechat_pay"}))
        refund = Refund(refund_id="RF1", policy_id="POL1", order_id="ORD1", payment_method="personal_account",
                        amount_fen=10000, status="refunded", created_at="2020-12-15T11:00:00+08:00",
                        deduction_key="ORD1-current")
        repo.save_refund(refund)
        repo.save_refund(refund.model_copy(update={"refund_id": "RF2", "payment_method": "wechat_pay",
                                                   "deduction_key": None}))
        orders, refunds = repo.asked_on("2020-12-15")
        assert [o.order_id for o in orders] == ["ORD1", "ORD2"] and refunds == [refund]
        assert [o.order_id for o in repo.asked_on("2020-12-16")[0]] == ["ORD3"]
        assert repo.asked_on("2020-12-14") == ([], [])


class PolicyRepositoryContract:
    def test_a_policy_reads_back_as_it_was_saved(self, repo):
        policy = a_policy(auto_renew=True, auto_renew_consent={"account_id": "acct-1", "given_at": "2020-12-15"})
        repo.save(policy)
        assert repo.get("POL1") == policy
        assert repo.get("POL404") is None

    def test_claim_figures_kept_on_the_item_pass_through(self, repo):
        repo.save(a_policy(ytd_paid_fen=4650000, ytd_eligible_fen=6200000, version=3))
        stored = repo.get("POL1")
        assert (stored.ytd_paid_fen, stored.ytd_eligible_fen, stored.version) == (4650000, 6200000, 3)

    def test_the_insured_and_the_payer_find_their_policies(self, repo):
        repo.save(a_policy("POL1"))
        repo.save(a_policy("POL2", plan_id="lishui-2022"))
        repo.save(a_policy("POL3", payer="acct-2", insured_hash="h-other"))
        assert [p.policy_id for p in repo.for_insured("h-spouse")] == ["POL1", "POL2"]
        assert [p.policy_id for p in repo.for_payer("acct-1")] == ["POL1", "POL2"]
        assert [p.policy_id for p in repo.for_payer("acct-1", plan_id="lishui-2022")] == ["POL2"]
        assert repo.for_payer("acct-3") == []


class TestDynamoOrderRepository(OrderRepositoryContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return OrderRepository(deps.table())


class TestInMemoryOrderRepository(OrderRepositoryContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryOrderRepository()


class TestDynamoPolicyRepository(PolicyRepositoryContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return PolicyRepository(deps.table())


class TestInMemoryPolicyRepository(PolicyRepositoryContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryPolicyRepository()
