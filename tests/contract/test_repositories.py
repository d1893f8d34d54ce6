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


    def test_a_refund_moves_through_its_lifecycle_and_the_work_queue(self, repo):
        pending = a_refund()
        repo.save_refund(pending)
        failed = repo.move_refund(pending, "refund_failed", {"refund_failure": "NOT_ENOUGH"})
        assert (failed.status, failed.refund_failure) == ("refund_failed", "NOT_ENOUGH")
        assert repo.refund("RF1") == failed
        assert list(repo.queued_refunds("refund_pending")) == []
        assert [r.refund_id for r in repo.queued_refunds("refund_failed")] == ["RF1"]
        done = repo.move_refund(failed, "refunded", {"refunded_at": "2020-12-15T11:00:00+08:00"})
        assert (done.status, done.refunded_at) == ("refunded", "2020-12-15T11:00:00+08:00")
        assert list(repo.queued_refunds("refund_failed")) == []

    def test_a_refund_that_moved_meanwhile_is_answered_as_stored_and_left_alone(self, repo):
        pending = a_refund()
        repo.save_refund(pending)
        done = repo.move_refund(pending, "refunded", {"refunded_at": "2020-12-15T11:00:00+08:00"})
        again = repo.move_refund(pending, "refund_failed", {"refund_failure": "LATE"})  # read before the first move
        assert again == done
        assert repo.refund("RF1") == done

    def test_a_refund_move_the_lifecycle_lacks_is_refused(self, repo):
        from chalicelib.domain.order_lifecycle import IllegalTransition

        refunded = a_refund(status="refunded")
        repo.save_refund(refunded)
        with pytest.raises(IllegalTransition):
            repo.move_refund(refunded, "refund_pending", {})
        assert repo.refund("RF1") == refunded

    def test_a_lease_is_held_by_one_holder_until_it_runs_out_or_is_released(self, repo):
        from datetime import datetime, timedelta

        from chalicelib.adapters.clock import CHINA_TZ

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        repo.save(an_order("ORD1", status="settling"))
        held = repo.claim_lease("ORD1", "settling", now, timedelta(seconds=60))
        assert held is not None and held.lease_until == "2020-12-15T10:01:00+08:00"
        assert repo.get("ORD1") == held
        assert repo.claim_lease("ORD1", "settling", now + timedelta(seconds=30), timedelta(seconds=60)) is None
        assert repo.claim_lease("ORD1", "paid", now + timedelta(seconds=90), timedelta(seconds=60)) is None
        repo.release_lease(held, now + timedelta(seconds=30))
        again = repo.claim_lease("ORD1", "settling", now + timedelta(seconds=30), timedelta(seconds=60))
        assert again is not None and again.lease_until == "2020-12-15T10:01:30+08:00"
        assert repo.claim_lease("ORD404", "settling", now, timedelta(seconds=60)) is None

    def test_an_order_moves_only_from_the_status_it_was_read_in_and_only_as_the_lifecycle_allows(self, repo):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.domain.order_lifecycle import IllegalTransition

        now = datetime(2020, 12, 15, 10, 5, tzinfo=CHINA_TZ)
        read = an_order("ORD1", status="refund_pending").model_copy(update={"lease_until": "2020-12-15T10:01:00+08:00"})
        repo.save(read)
        with pytest.raises(IllegalTransition):
            repo.move(read, "refund_pending", "paid", {}, now)
        assert repo.move(read, "refund_pending", "refund_failed", {"refund_failure": "NOT_ENOUGH"}, now) is True
        moved = repo.get("ORD1")
        assert (moved.status, moved.refund_failure, moved.version, moved.lease_until, moved.updated_at) == (
            "refund_failed", "NOT_ENOUGH", 2, None, "2020-12-15T10:05:00+08:00")
        assert [o.order_id for o in repo.queued("refund_failed")] == ["ORD1"]
        assert repo.move(read, "refund_pending", "refunded", {}, now) is False  # moved meanwhile: left alone
        assert repo.get("ORD1") == moved
        assert repo.move(an_order("ORD404"), "settling", "failed", {}, now) is False

    def test_a_lease_is_not_released_once_the_order_left_settling(self, repo):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        paid = an_order("ORD1", status="paid").model_copy(update={"lease_until": "2020-12-15T10:01:00+08:00"})
        repo.save(paid)
        repo.release_lease(paid, now)
        assert repo.get("ORD1").lease_until == "2020-12-15T10:01:00+08:00"


def a_refund(**changes) -> Refund:
    fields = {"refund_id": "RF1", "policy_id": "POL1", "order_id": "ORD1", "payment_method": "personal_account",
              "amount_fen": 10000, "status": "refund_pending", "created_at": "2020-12-15T10:00:00+08:00",
              "deduction_key": "ORD1-current"}
    return Refund(**{**fields, **changes})


class OrderTransactionContract:
    """The named transaction items services compose (one TransactWriteItems each): their conditions, in either world
    (`table` is the world's transaction runner and repositories: World below)."""

    def test_a_new_order_is_recorded_once(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import place_op

        table.transact([place_op(an_order("ORD1"))])
        with pytest.raises(ConditionFailed):
            table.transact([place_op(an_order("ORD1", status="pending_payment"))])
        assert table.orders.get("ORD1") == an_order("ORD1")

    def test_cover_is_issued_over_the_orders_own_reservation_but_not_over_anothers(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import issue_cover_op

        repo = table.orders
        repo.save_cover(CoverMarker(plan_id="lishui-2021", state="reserved", order_id="ORD1"), "h-self")
        repo.save_cover(CoverMarker(plan_id="lishui-2021", state="reserved", order_id="ORD2"), "h-spouse")
        table.transact([issue_cover_op(CoverMarker(plan_id="lishui-2021", order_id="ORD1", policy_id="POL1"),
                                       "h-self")])
        with pytest.raises(ConditionFailed):
            table.transact([issue_cover_op(CoverMarker(plan_id="lishui-2021", order_id="ORD1", policy_id="POL2"),
                                           "h-spouse")])
        found = repo.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")])
        assert (found[("lishui-2021", "h-self")].state, found[("lishui-2021", "h-self")].policy_id) == ("issued",
                                                                                                       "POL1")
        assert found[("lishui-2021", "h-spouse")].order_id == "ORD2"

    def test_cancelling_needs_the_version_read_and_frees_only_that_policys_cover(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import free_cover_op, new_refund_op

        policies, orders = table.policies, table.orders
        policy = a_policy(auto_renew=True)
        policies.save(policy.model_copy(update={"version": 2}))
        orders.save_cover(CoverMarker(plan_id="lishui-2021", order_id="ORD1", policy_id="POL1"), "h-spouse")
        with pytest.raises(ConditionFailed):  # read at version 1, changed since (a claim was paid)
            table.transact([PolicyRepository.cancel_op(policy, "2020-12-20T10:00:00+08:00")])
        with pytest.raises(ConditionFailed):  # someone else's cover is not freed
            table.transact([free_cover_op("lishui-2021", "h-spouse", "POL9")])
        current = policies.get("POL1")
        table.transact([PolicyRepository.cancel_op(current, "2020-12-20T10:00:00+08:00"),
                        free_cover_op("lishui-2021", "h-spouse", "POL1"), new_refund_op(a_refund())])
        cancelled = policies.get("POL1")
        assert (cancelled.status, cancelled.auto_renew, cancelled.version) == ("cancelled", False, 3)
        assert orders.covers([("lishui-2021", "h-spouse")]) == {}
        assert [r.refund_id for r in orders.queued_refunds("refund_pending")] == ["RF1"]
        with pytest.raises(ConditionFailed):  # one refund per policy
            table.transact([new_refund_op(a_refund())])

    def test_a_status_move_is_conditional_on_the_status_read_and_moves_the_work_queue(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import status_op
        from chalicelib.domain.order_lifecycle import IllegalTransition

        now = datetime(2020, 12, 15, 10, 5, tzinfo=CHINA_TZ)
        repo = table.orders
        order = an_order("ORD1", status="settling").model_copy(update={"lease_until": "2020-12-15T10:01:00+08:00"})
        repo.save(order)
        with pytest.raises(IllegalTransition):  # the lifecycle table lacks settling → pending_payment
            status_op(order, "settling", "pending_payment", {}, now)
        with pytest.raises(ConditionFailed):  # read as pending_payment, stored as settling
            table.transact([status_op(order, "pending_payment", "paid", {}, now)])
        table.transact([status_op(order, "settling", "refund_pending", {"failure": "ALREADY_COVERED"}, now)])
        moved = repo.get("ORD1")
        assert (moved.status, moved.failure, moved.version, moved.lease_until) == ("refund_pending",
                                                                                  "ALREADY_COVERED", 2, None)
        assert [o.order_id for o in repo.queued("refund_pending")] == ["ORD1"]
        assert list(repo.queued("settling")) == []
        table.transact([status_op(moved, "refund_pending", "refunded", {"refunded_at": "2020-12-15T10:06:00+08:00"},
                                  now)])
        assert list(repo.queued("refund_pending")) == [] and repo.get("ORD1").status == "refunded"

    def test_a_reservation_holds_each_person_once_and_is_released_only_by_its_order(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import release_ops, reserve_ops

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        repo = table.orders
        mine = an_order("ORD1").model_copy(update={"pay_before": "2020-12-15T10:30:00+08:00"})
        table.transact(reserve_ops(mine, now))
        held = repo.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")])
        assert {m.order_id for m in held.values()} == {"ORD1"} and all(m.is_reserved for m in held.values())
        assert held[("lishui-2021", "h-self")].pay_before == "2020-12-15T10:30:00+08:00"
        assert held[("lishui-2021", "h-self")].payer_account_id == "acct-1"
        with pytest.raises(ConditionFailed):  # another order for the same people
            table.transact(reserve_ops(an_order("ORD2"), now))
        with pytest.raises(ConditionFailed):  # another order cannot free them
            table.transact(release_ops(an_order("ORD2")))
        table.transact(release_ops(mine))
        assert repo.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")]) == {}

    def test_an_order_ends_with_its_reservations_released_and_nobody_elses(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import release_ops, reserve_ops, status_op

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        repo = table.orders
        mine = an_order("ORD1")
        repo.save(mine)
        table.transact(reserve_ops(mine, now))
        table.transact(release_ops(mine)[1:])  # the spouse was freed already …
        repo.save_cover(CoverMarker(plan_id="lishui-2021", state="reserved", order_id="ORD2"), "h-spouse")  # … and held
        with pytest.raises(ConditionFailed):  # the order's own move refused: nothing is written
            repo.end_releasing([status_op(mine, "pending_payment", "failed", {}, now)], mine)
        assert len(repo.covers([("lishui-2021", "h-self")])) == 1
        repo.end_releasing([status_op(mine, "settling", "failed", {"failure": "PAYMENT_REFUSED"}, now)], mine)
        assert repo.get("ORD1").status == "failed"
        left = repo.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")])
        assert list(left) == [("lishui-2021", "h-spouse")] and left[("lishui-2021", "h-spouse")].order_id == "ORD2"

    def test_a_prepay_is_recorded_only_on_an_order_awaiting_payment(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import prepay_op

        repo = table.orders
        repo.save(an_order("ORD1", status="pending_payment"))
        repo.save(an_order("ORD2", status="expired"))
        table.transact([prepay_op("ORD1", {"prepay_id": "wx1"})])
        assert repo.get("ORD1").wechat == {"prepay_id": "wx1"}
        with pytest.raises(ConditionFailed):
            table.transact([prepay_op("ORD2", {"prepay_id": "wx2"})])

    def test_a_wechat_transaction_is_applied_once(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import wechat_transaction_op

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        table.transact([wechat_transaction_op("4200001", "ORD1", now)])
        with pytest.raises(ConditionFailed):
            table.transact([wechat_transaction_op("4200001", "ORD2", now)])

    def test_placing_reads_the_payer_the_requests_record_and_the_named_members_at_once(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.services import idempotency

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        repo = table.orders
        table.seed_account({"account_id": "acct-1", "person_hash": "h-self", "id_enc": "e1",
                   "person_name": "王建国", "login_channel": "wechat", "openid": "o-1", "phone_hash": "p"})
        table.seed_member({"member_id": "M1", "account_id": "acct-1",
                   "id_hash": "h-spouse", "id_enc": "e2", "name": "李秀英", "relationship": "spouse",
                   "birth_date": "1982-05-05", "sex": "F"})
        fresh = repo.placing_reads("acct-1", "acct-1#orders", "k1", ["M1", "M404"])
        assert fresh.previous is None and list(fresh.members) == ["M1"]
        assert (fresh.payer.person_hash, fresh.payer.openid, fresh.payer.bound_person()) == ("h-self", "o-1",
                                                                                             "h-self")
        assert (fresh.members["M1"].relationship, fresh.members["M1"].id_hash) == ("spouse", "h-spouse")
        table.transact([idempotency.in_progress_op("acct-1#orders", "k1", "rh", now, "ORD1")])
        replay = repo.placing_reads("acct-1", "acct-1#orders", "k1", [])
        assert (replay.previous.state, replay.previous.resource_id) == ("in_progress", "ORD1")
        assert repo.request_record("acct-1#orders", "k1") == replay.previous
        assert repo.request_record("acct-1#orders", "k2") is None
        assert repo.placing_reads("acct-2", "acct-2#orders", "k1", []).payer is None


    # ---- the transaction itself: all conditions first, then all writes, or nothing ------------------------------
    def test_a_failing_condition_in_any_item_writes_nothing_and_names_that_item(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.disclosure import counter_op
        from chalicelib.adapters.repositories.orders import place_op, reserve_ops
        from chalicelib.domain.disclosure import Counts
        from chalicelib.services import idempotency

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        table.policies.save(a_policy("POL1"))  # exists: issuing it again is refused
        ops = [idempotency.in_progress_op("acct-1#orders", "k1", "rh", now, "ORD1"), place_op(an_order("ORD1")),
               *reserve_ops(an_order("ORD1"), now), PolicyRepository.issue_op(a_policy("POL1")),
               counter_op("lishui-2021", "331102", "personal_account", "ORD1", Counts(enrolled=1))]
        with pytest.raises(ConditionFailed) as refused:
            table.transact(ops)
        assert refused.value.reasons == ["None", "None", "None", "None", "ConditionalCheckFailed", "None"]
        assert table.orders.get("ORD1") is None and table.idempotency.get("acct-1#orders", "k1") is None
        assert table.orders.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")]) == {}
        assert table.counters.cells("lishui-2021") == {}
        table.transact(ops[:4] + ops[5:])  # without the refused item, everything lands at once
        assert table.orders.get("ORD1") == an_order("ORD1")
        assert len(table.orders.covers([("lishui-2021", "h-self"), ("lishui-2021", "h-spouse")])) == 2
        assert table.counters.cells("lishui-2021") == {("331102", "personal_account"): Counts(enrolled=1)}

    def test_every_refused_item_is_named_by_its_position(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import place_op, prepay_op, status_op
        from chalicelib.services import idempotency

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        for order_id, status in (("ORD1", "settling"), ("ORD2", "settling"), ("ORD3", "expired")):
            table.orders.save(an_order(order_id, status=status))
        with pytest.raises(ConditionFailed) as refused:
            table.transact([place_op(an_order("ORD1")), status_op(an_order("ORD2"), "settling", "paid", {}, now),
                            prepay_op("ORD3", {"prepay_id": "wx1"}),
                            idempotency.release_op("acct-1#orders", "k404", "rh")])
        assert refused.value.reasons == ["ConditionalCheckFailed", "None", "ConditionalCheckFailed",
                                         "ConditionalCheckFailed"]
        assert table.orders.get("ORD2") == an_order("ORD2", status="settling")

    def test_a_claimed_renewal_is_claimed_once_and_recorded_renewed_only_by_its_order(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed

        table.policies.save(a_policy("POL1", auto_renew=True,
                                     renewal={"status": "noticed", "next_plan_id": "lishui-2022"}))
        at = "2021-12-01T10:00:00+08:00"
        table.transact([PolicyRepository.renewal_claim_op("POL1", "ORD9", "acct-1", at)])
        claimed = table.policies.get("POL1")
        assert (claimed.renewal.deduction_started_at, claimed.renewal.order_id, claimed.version) == (at, "ORD9", 2)
        with pytest.raises(ConditionFailed):
            table.transact([PolicyRepository.renewal_claim_op("POL1", "ORD8", "acct-1", at)])
        with pytest.raises(ConditionFailed):
            table.transact([PolicyRepository.renewal_renewed_op("POL1", "POL2", "ORD8", {"event": "renewed"})])
        table.transact([PolicyRepository.renewal_renewed_op("POL1", "POL2", "ORD9", {"event": "renewed"})])
        renewed = table.policies.get("POL1")
        assert (renewed.renewal.status, renewed.renewal.renewed_policy_id, renewed.renewal_history) == (
            "renewed", "POL2", [{"event": "renewed"}])
        assert list(table.policies.renewal_mandates("lishui-2021")) == []
        with pytest.raises(ConditionFailed):
            table.transact([PolicyRepository.renewal_renewed_op("POL1", "POL2", "ORD9", {"event": "renewed"})])

    def test_a_takeover_needs_the_version_read_and_happens_once(self, table):
        from chalicelib.adapters.dynamodb import ConditionFailed

        table.policies.save(a_policy("POL1"))
        read = table.policies.get("POL1")
        table.transact([PolicyRepository.take_over_op(read, "government", {"list_id": "L1"})])
        taken = table.policies.get("POL1")
        assert (taken.payment_method, taken.taken_over, taken.version) == ("government", {"list_id": "L1"}, 2)
        with pytest.raises(ConditionFailed):
            table.transact([PolicyRepository.take_over_op(taken, "government", {"list_id": "L2"})])

    def test_concurrent_reservations_of_one_person_let_exactly_one_through(self, table):
        from concurrent.futures import ThreadPoolExecutor
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.dynamodb import ConditionFailed
        from chalicelib.adapters.repositories.orders import place_op, reserve_ops

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)

        def reserve(n: int) -> bool:
            order = an_order(f"ORD{n}")
            try:
                table.transact([place_op(order), *reserve_ops(order, now)])
            except ConditionFailed:
                return False
            return True

        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(reserve, range(8)))
        assert won.count(True) == 1
        winner = f"ORD{won.index(True)}"
        assert {m.order_id for m in table.orders.covers([("lishui-2021", "h-self")]).values()} == {winner}
        assert [n for n in range(8) if table.orders.get(f"ORD{n}") is not None] == [won.index(True)]


class DynamoWorld:
    """One table: its transactions and the repositories over it."""

    def __init__(self, table) -> None:
        from chalicelib.adapters.repositories.disclosure import DynamoDisclosureCounters
        from chalicelib.adapters.repositories.idempotency import IdempotencyRepository

        self.table = table
        self.orders, self.policies = OrderRepository(table), PolicyRepository(table)
        self.idempotency, self.counters = IdempotencyRepository(table), DynamoDisclosureCounters(table)

    def transact(self, ops) -> None:
        self.table.transact(ops)

    def seed_account(self, fields) -> None:
        from chalicelib.adapters import keys

        self.table.put({**keys.account(fields["account_id"]), **fields})

    def seed_member(self, fields) -> None:
        from chalicelib.adapters import keys

        self.table.put({**keys.family_member(fields["account_id"], fields["member_id"]), **fields})


class MemoryWorld:
    """One MemoryStore: its transactions and the twins sharing it."""

    def __init__(self) -> None:
        from chalicelib.adapters.repositories.accounts import InMemoryAccountRepository
        from chalicelib.adapters.repositories.disclosure import InMemoryDisclosureCounters
        from chalicelib.adapters.repositories.family import InMemoryFamilyRepository
        from chalicelib.adapters.repositories.idempotency import InMemoryIdempotencyRepository
        from chalicelib.adapters.repositories.memory import MemoryStore

        self.store = MemoryStore()
        self.orders, self.policies = InMemoryOrderRepository(self.store), InMemoryPolicyRepository(self.store)
        self.idempotency = InMemoryIdempotencyRepository(self.store)
        self.counters = InMemoryDisclosureCounters(self.store)
        self.accounts, self.family = InMemoryAccountRepository(self.store), InMemoryFamilyRepository(self.store)

    def transact(self, ops) -> None:
        self.store.transact(ops)

    def seed_account(self, fields) -> None:
        from chalicelib.domain.account import Account

        self.accounts.create(Account.model_validate(fields), "wechat", fields.get("openid") or fields["account_id"])

    def seed_member(self, fields) -> None:
        from chalicelib.domain.family import FamilyMember

        assert self.family.add(FamilyMember.model_validate({"created_at": "2020-12-01T10:00:00+08:00", **fields}))


class TestDynamoOrderTransactions(OrderTransactionContract):
    @pytest.fixture()
    def table(self, aws):
        from chalicelib import deps

        return DynamoWorld(deps.table())


class TestInMemoryOrderTransactions(OrderTransactionContract):
    @pytest.fixture()
    def table(self):
        return MemoryWorld()

    def test_an_item_without_an_in_memory_twin_is_refused_before_anything_is_written(self, table):
        from chalicelib.adapters.dynamodb import TxOp
        from chalicelib.adapters.repositories.orders import place_op

        with pytest.raises(TypeError):
            table.transact([place_op(an_order("ORD1")), TxOp.put({"PK": "RAW#1", "SK": "RAW"})])
        assert table.orders.get("ORD1") is None

    def test_two_items_on_one_stored_item_are_refused_as_dynamodb_refuses_them(self, table):
        from datetime import datetime

        from chalicelib.adapters.clock import CHINA_TZ
        from chalicelib.adapters.repositories.orders import place_op, status_op

        now = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)
        table.orders.save(an_order("ORD1", status="settling"))
        with pytest.raises(ValueError):
            table.transact([status_op(an_order("ORD1"), "settling", "paid", {}, now), place_op(an_order("ORD1"))])
        assert table.orders.get("ORD1") == an_order("ORD1", status="settling")


def test_a_payer_without_a_bound_person_is_refused_where_identity_is_needed():
    from chalicelib.domain.errors import RuleViolation
    from chalicelib.domain.order import OrderPayer

    with pytest.raises(RuleViolation) as refused:
        OrderPayer(account_id="acct-1").bound_person()
    assert refused.value.code == "IDENTITY_REQUIRED"


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


class RenewalIndexContract:
    def test_the_renewal_index_holds_a_plans_consenting_policies_until_their_renewal_ends(self, repo):
        repo.save(a_policy("POL1", auto_renew=True))
        repo.save(a_policy("POL2", payer="acct-2", auto_renew=True))
        repo.save(a_policy("POL3"))  # never consented
        repo.save(a_policy("POL4", auto_renew=True, status="cancelled"))
        repo.save(a_policy("POL5", plan_id="lishui-2022", auto_renew=True))
        repo.save(a_policy("POL6", auto_renew=True, renewal={"status": "renewed", "next_plan_id": "lishui-2022"}))
        repo.save(a_policy("POL7", auto_renew=True, renewal={"status": "noticed", "next_plan_id": "lishui-2022"}))
        assert sorted(repo.renewal_mandates("lishui-2021")) == ["POL1", "POL2", "POL7"]
        assert list(repo.renewal_mandates("lishui-2022")) == ["POL5"]
        assert list(repo.renewal_mandates("lishui-2023")) == []


class TestDynamoOrderRepository(OrderRepositoryContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return OrderRepository(deps.table())


class TestInMemoryOrderRepository(OrderRepositoryContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryOrderRepository()


class TestDynamoPolicyRepository(PolicyRepositoryContract, RenewalIndexContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return PolicyRepository(deps.table())

    def test_the_renewal_index_is_sharded_and_still_finds_entries_written_before_it_was(self, repo):
        from chalicelib.adapters import keys
        from chalicelib.adapters.repositories.policies import policy_item

        for n in range(40):
            repo.save(a_policy(f"POL{n:02d}", auto_renew=True))
        legacy = {**policy_item(a_policy("POLOLD", auto_renew=True)), "GSI4PK": "RENEWAL#lishui-2021",
                  "GSI4SK": "acct-1#POLOLD"}  # an entry from before the index was sharded
        repo.table.put(legacy)
        shards = {repo.table.get(keys.policy(f"POL{n:02d}"))["GSI4PK"] for n in range(40)}

        assert len(shards) > 8 and all(s.startswith("RENEWAL#lishui-2021#") for s in shards)
        assert sorted(repo.renewal_mandates("lishui-2021")) == sorted([f"POL{n:02d}" for n in range(40)]
                                                                      + ["POLOLD"])


class TestInMemoryPolicyRepository(PolicyRepositoryContract, RenewalIndexContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryPolicyRepository()
