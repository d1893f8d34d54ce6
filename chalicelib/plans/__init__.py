"""Plan definitions as data (one JSON file per plan), validated by pydantic on first use."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from chalicelib.domain.plan import Plan, PlanError

_DIR = Path(__file__).parent
_lock = threading.Lock()
_plans: dict[str, Plan] | None = None


def parse_plan(data: dict) -> Plan:
    """Validate one plan definition; raises PlanError (guard rails included) with pydantic's reasons."""
    from pydantic import ValidationError

    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"plan {data.get('plan_id')!r} refused: {exc}") from None
    for warning in plan.warnings():
        from chalicelib.observability import logger

        logger().warning("plan loaded with a warning", extra={"plan_id": plan.plan_id, "warning": warning})
    return plan


def load_plans(directory: Path | None = None) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for path in sorted((directory or _DIR).glob("*.json")):
        plan = parse_plan(json.loads(path.read_text(encoding="utf-8")))
        if plan.plan_id != path.stem:
            raise PlanError(f"{path.name} defines {plan.plan_id}")
        plans[plan.plan_id] = plan
    check_succession(plans)
    return plans


def check_succession(plans: dict[str, Plan]) -> None:
    """A plan that names a previous plan continues the same scheme in the same city, after it; a plan that renews
    another also names when the renewal notices and debits (the previous plan must let members consent)."""
    for plan in plans.values():
        if plan.previous_plan_id is None:
            continue
        previous = plans.get(plan.previous_plan_id)
        if previous is None:
            raise PlanError(f"plan {plan.plan_id!r} names an unknown previous plan {plan.previous_plan_id!r}")
        if (previous.scheme, previous.city) != (plan.scheme, plan.city):
            raise PlanError(f"plan {plan.plan_id!r} does not continue {previous.plan_id!r}'s scheme and city")
        if previous.coverage_end >= plan.coverage_start:
            raise PlanError(f"plan {plan.plan_id!r} starts before {previous.plan_id!r} ends")
        if plan.renewal is not None and "personal_account" not in previous.payment_methods:
            raise PlanError(f"plan {plan.plan_id!r} renews {previous.plan_id!r}, which takes no personal account")


def all_plans() -> dict[str, Plan]:
    global _plans
    if _plans is None:
        with _lock:
            if _plans is None:
                _plans = load_plans()
    return _plans


def get_plan(plan_id: str) -> Plan:
    from chalicelib.domain.errors import NotFound

    plan = all_plans().get(plan_id)
    if plan is None:
        raise NotFound("PLAN_NOT_FOUND", plan_id=plan_id)
    return plan
