"""The daily platform reconciliation (对账, DOMAIN §9.10; job `platform_reconciliation`): every personal-account
deduction and refund we asked the 医保 platform for on a day — ordinary orders, renewal orders, cancellation
refunds — against the platform's statement of that day.

- A line that matches what our records say: nothing to do.
- A lost answer (we asked, the platform applied it, our order still says `settling`): the order is completed through
  the order machinery under its lease — the deduction is found by its key, never made again — and a renewal order
  also marks the policy it renews as renewed. Counted `completed`, not a difference.
- Anything else is a difference (domain/reconciliation.py): stored once per (day, kind, key) as a staff task
  (`GET /v1/admin/reconciliation-differences`) and logged once as a WARNING `{"reconciliation_difference":
  "platform"}` (the stack's metric filter and alarm count those lines). Never silently corrected.

Re-running a day adds nothing twice: differences are stored with a uniqueness condition, a completed order is paid.
Both sides are looked up by the platform's idempotency keys, so a request made just before midnight whose line lands
on the next day's statement (or a refund sent days later) is matched, not reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.repositories.reconciliation import ReconciliationDifferences
from chalicelib.domain.errors import DomainError, UpstreamUnavailable
from chalicelib.domain.messages import term
from chalicelib.domain.order import Order, Refund
from chalicelib.domain.order_lifecycle import (
    PAID,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUNDED,
    SETTLING,
)
from chalicelib.domain.platform import StatementEntry
from chalicelib.domain.reconciliation import Expected, ReconciliationDifference, compare
from chalicelib.services.orders.ports import OrderPorts

REVERSAL_SUFFIX = "-reversal"  # services/orders/common.py `_reverse_deductions`: {deduction key}-reversal
LIST_ROLES = frozenset({"claims_reviewer", "insurer_admin", "bureau"})


@dataclass(frozen=True)
class ReconciliationPorts:
    orders: OrderPorts  # table, platform, repositories: the order machinery a lost answer is completed through
    differences: ReconciliationDifferences


# ---- what our records say the platform moved ----------------------------------------------------------------------
def expected_of_order(order: Order) -> list[Expected]:
    """The movements an order's status says happened (certain) or may have happened (uncertain, still in flight)."""
    status = order.status
    if status not in (SETTLING, PAID, REFUND_PENDING, REFUND_FAILED, REFUNDED):
        return []  # failed / expired: nothing was taken
    out = []
    for planned in order.deductions:
        common = {"order_id": order.order_id, "plan_id": order.plan_id}
        out.append(Expected("deduction", planned.key, planned.amount_fen, certain=status != SETTLING, **common))
        if status in (SETTLING, REFUND_PENDING, REFUND_FAILED, REFUNDED):
            out.append(Expected("refund", planned.key + REVERSAL_SUFFIX, planned.amount_fen,
                                certain=status == REFUNDED, **common))
    return out


def expected_of_refund(refund: Refund, plan_id: str | None) -> list[Expected]:
    if refund.payment_method != "personal_account" or refund.status == REFUND_FAILED:
        return []
    return [Expected("refund", refund.refund_id, refund.amount_fen, order_id=refund.order_id,
                     refund_id=refund.refund_id, plan_id=plan_id, certain=refund.status == REFUNDED)]


# ---- the run ----------------------------------------------------------------------------------------------------
def reconcile_day(ports: ReconciliationPorts, day: date, now: datetime) -> dict[str, int]:
    """Reconcile `day` (China time). Counts: statement lines, our requests, matched, completed (lost answers),
    differences found and how many of them are new (stored and alarmed now)."""
    from chalicelib.adapters.medical_platform import PlatformUnavailable
    from chalicelib.observability import logger

    platform = ports.orders.platform
    try:
        statement = platform.account_statement(day)
        next_day = {(e.kind, e.idempotency_key): e for e in platform.account_statement(day + timedelta(days=1))}
    except PlatformUnavailable:
        raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_PLATFORM")) from None
    orders, refunds = ports.orders.orders.asked_on(day.isoformat())
    plans_of_orders = {o.order_id: o.plan_id for o in orders}
    ours = [e for o in orders for e in expected_of_order(o)]
    ours += [e for r in refunds for e in expected_of_refund(r, plans_of_orders.get(r.order_id))]
    result = compare(ours, statement)
    run = _Run(ports, day, now)
    run.counts.update({"statement": len(statement), "ours": sum(1 for e in ours if e.certain)})
    run.counts["matched"] += len(result.matched)
    for expected, entry in result.amount_differs:
        run.difference("amount_differs", expected, entry)
    for expected, entry in result.lost_answers:
        run.lost_answer(expected, entry)
    for entry in result.unmatched:
        run.unmatched(entry)
    for expected in result.missing:
        run.missing(expected, next_day.get((expected.kind, expected.idempotency_key)))
    summary = {"day": day.isoformat(), **run.counts}
    if run.counts["differences"]:
        logger().warning("platform reconciliation differences", extra=summary)
    else:
        logger().info("platform reconciliation: no difference", extra=summary)
    return run.counts


class _Run:
    def __init__(self, ports: ReconciliationPorts, day: date, now: datetime) -> None:
        self.ports, self.day, self.now = ports, day, now
        self.counts = {"statement": 0, "ours": 0, "matched": 0, "completed": 0, "undone": 0, "in_progress": 0, "differences": 0,
                       "new_differences": 0}
        self._completed: set[str] = set()

    # -- a statement line of the day's requests ------------------------------------------------------------------
    def lost_answer(self, expected: Expected, entry: StatementEntry) -> None:
        """The platform made a movement our in-flight order does not know about yet. A deduction: complete the
        order (it finds the deduction by key). A reversal in flight: the order machinery records it itself."""
        if expected.kind == "deduction" and expected.order_id:
            self.counts[self._complete(expected.order_id)] += 1
        else:
            self.counts["matched"] += 1

    def unmatched(self, entry: StatementEntry) -> None:
        """A line none of the day's requests names: ours from another day (matched as its owner's status says), or
        not ours at all."""
        owner = self._owner_expectations(entry)
        expected = next((e for e in owner if (e.kind, e.idempotency_key) == (entry.kind, entry.idempotency_key)),
                        None)
        if expected is None:
            self.difference("not_ours", None, entry)
        elif expected.amount_fen != entry.amount_fen:
            self.difference("amount_differs", expected, entry)
        elif not expected.certain:
            self.lost_answer(expected, entry)
        else:
            self.counts["matched"] += 1

    # -- a request of ours the day's statement lacks -------------------------------------------------------------
    def missing(self, expected: Expected, on_next_day: StatementEntry | None) -> None:
        from chalicelib.adapters.medical_platform import PlatformUnavailable

        if on_next_day is not None:  # asked just before midnight: the platform booked it the next day
            if on_next_day.amount_fen != expected.amount_fen:
                self.difference("amount_differs", expected, on_next_day)
            else:
                self.counts["matched"] += 1
            return
        deduction_key = (expected.idempotency_key if expected.kind == "deduction"
                         else self._deduction_key_of(expected))
        try:
            deduction = self.ports.orders.platform.find_deduction(deduction_key) if deduction_key else None
        except PlatformUnavailable:
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_PLATFORM")) from None
        if expected.kind == "deduction":
            if deduction is not None:  # booked on another day
                if deduction.amount_fen != expected.amount_fen:
                    self.difference("amount_differs", expected, None, platform_fen=deduction.amount_fen)
                else:
                    self.counts["matched"] += 1
            elif self._order_status(expected.order_id) == REFUNDED:
                self.counts["matched"] += 1  # one of its deductions was refused: never made, nothing to return
            else:
                self.difference("deduction_missing", expected, None)
            return
        if deduction is None or deduction.status == "refunded":
            self.counts["matched"] += 1  # nothing was taken to return, or the platform returned it on another day
        else:
            self.difference("refund_missing", expected, None)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _complete(self, order_id: str) -> str:
        """Finish a `settling` order whose deduction the platform made: issue (or undo, by the order rules) under
        the order's lease, exactly as the order reconciliation would. A renewal also marks its old policy."""
        from chalicelib.services import renewals
        from chalicelib.services.orders.common import LEASE
        from chalicelib.services.orders.personal_account import settle

        if order_id in self._completed:
            return "matched"
        self._completed.add(order_id)
        order = self.ports.orders.orders.get(order_id)
        if order is None:
            return "in_progress"
        if order.status == PAID:  # completed meanwhile (the member's retry, the order reconciliation)
            view_policies = order.policy_ids
        else:
            claimed = self.ports.orders.orders.claim_lease(order_id, SETTLING, self.now, LEASE)
            if claimed is None:
                return "in_progress"  # someone holds it now and will finish it
            try:
                _, view = settle(self.ports.orders, claimed, self.now, deduct=False)
            except UpstreamUnavailable:
                return "in_progress"
            except DomainError:
                return "undone"  # the order rules undid it (e.g. covered meanwhile): the money goes back
            view_policies = [p["policy_id"] for p in view.get("policies", [])] or order.policy_ids
        if order.channel == "renewal" and order.renews_policy_id and view_policies:
            renewals.mark_renewed(self.ports.orders.policies, order.renews_policy_id, view_policies[0], self.now)
        from chalicelib.observability import logger

        logger().info("platform reconciliation completed an order whose answer was lost",
                      extra={"order_id": order_id, "day": self.day.isoformat()})
        return "completed"

    def _owner_expectations(self, entry: StatementEntry) -> list[Expected]:
        from chalicelib.adapters.medical_platform import PlatformUnavailable

        repo = self.ports.orders.orders
        if entry.kind == "deduction":
            order = repo.get(entry.reference) if entry.reference else None
            return expected_of_order(order) if order else []
        if entry.idempotency_key.endswith(REVERSAL_SUFFIX):
            try:
                deduction = self.ports.orders.platform.find_deduction(entry.deduction_idempotency_key)
            except PlatformUnavailable:
                raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_PLATFORM")) from None
            order = repo.get(deduction.reference) if deduction and deduction.reference else None
            return expected_of_order(order) if order else []
        refund = repo.refund(entry.idempotency_key)
        if refund is None or refund.deduction_key != entry.deduction_idempotency_key:
            return []
        order = repo.get(refund.order_id)
        return expected_of_refund(refund, order.plan_id if order else None)

    def _order_status(self, order_id: str | None) -> str | None:
        order = self.ports.orders.orders.get(order_id) if order_id else None
        return order.status if order else None

    def _deduction_key_of(self, expected: Expected) -> str | None:
        if expected.idempotency_key.endswith(REVERSAL_SUFFIX):
            return expected.idempotency_key[:-len(REVERSAL_SUFFIX)]
        refund = self.ports.orders.orders.refund(expected.refund_id) if expected.refund_id else None
        return refund.deduction_key if refund else None

    def difference(self, kind: str, expected: Expected | None, entry: StatementEntry | None,
                   platform_fen: int | None = None) -> None:
        from chalicelib.observability import logger
        from chalicelib.plans import get_plan

        plan_id = expected.plan_id if expected else None
        diff = ReconciliationDifference(
            day=self.day.isoformat(), kind=kind,  # type: ignore[arg-type]
            entry_kind=(expected.kind if expected else entry.kind),  # type: ignore[union-attr]
            idempotency_key=(expected.idempotency_key if expected else entry.idempotency_key),  # type: ignore[union-attr]
            ours_fen=expected.amount_fen if expected else None,
            platform_fen=entry.amount_fen if entry is not None else platform_fen,
            order_id=expected.order_id if expected else None, refund_id=expected.refund_id if expected else None,
            plan_id=plan_id, city=_city(plan_id, get_plan), found_at=iso(self.now))
        self.counts["differences"] += 1
        if not self.ports.differences.add(diff):
            return  # found by an earlier run of this day: stored and alarmed once
        self.counts["new_differences"] += 1
        logger().warning("platform reconciliation: a difference", extra={
            "reconciliation_difference": "platform", "kind": diff.kind, "day": diff.day,
            "entry_kind": diff.entry_kind, "idempotency_key": diff.idempotency_key, "ours_fen": diff.ours_fen,
            "platform_fen": diff.platform_fen, "order_id": diff.order_id})


def _city(plan_id: str | None, get_plan) -> str | None:
    if not plan_id:
        return None
    try:
        return get_plan(plan_id).city
    except DomainError:
        return None


# ---- staff tasks (GET /v1/admin/reconciliation-differences) -------------------------------------------------------
def differences_for(ports: ReconciliationPorts, principal, day: date) -> list[dict[str, Any]]:
    """The day's differences the caller's cities may see (a line that is not ours has no city: every city sees
    it). Claims and insurer staff and the bureau."""
    from chalicelib.domain.errors import Forbidden
    from chalicelib.domain.principal import acts_for_city

    if principal.role not in LIST_ROLES:
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    return [d.model_dump(mode="json") for d in ports.differences.for_day(day.isoformat())
            if d.city is None or acts_for_city(principal, d.city)]
