import json
from pathlib import Path

import pytest

from chalicelib.domain.plan import PlanError
from chalicelib.plans import load_plans, parse_plan

PLAN_DIR = Path(__file__).resolve().parents[2] / "chalicelib" / "plans"


def _lishui() -> dict:
    return json.loads((PLAN_DIR / "lishui-2021.json").read_text(encoding="utf-8"))


def test_all_shipped_plans_load():
    assert set(load_plans()) == {"lishui-2021", "lishui-2022", "dengfeng-2018", "dengfeng-2019"}


@pytest.mark.parametrize("condition", ["max_age", "health_status", "occupation", "medical_history"])
def test_plan_that_conditions_on_a_person_is_refused(condition):
    data = _lishui()
    data["eligibility"]["conditions"] = {condition: 65}
    with pytest.raises(PlanError, match="guard rail"):
        parse_plan(data)


def test_plan_that_covers_the_negative_list_is_refused():
    data = _lishui()
    data["benefits"]["categories"]["negative_list"]["covered"] = True
    with pytest.raises(PlanError, match="negative list"):
        parse_plan(data)


def test_unknown_setting_in_a_plan_is_refused():
    data = _lishui()
    data["age_limit"] = 60
    with pytest.raises(PlanError):
        parse_plan(data)


def test_premium_must_match_its_derivation():
    data = _lishui()
    data["premium"]["amount_fen"] = 9900
    with pytest.raises(PlanError, match="derivation"):
        parse_plan(data)


def test_premium_above_guidance_loads_with_a_warning():
    plan = load_plans()["lishui-2022"]
    assert plan.premium_fen == 10700
    assert any("10000" in w for w in plan.warnings())
    assert load_plans()["lishui-2021"].warnings() == []
