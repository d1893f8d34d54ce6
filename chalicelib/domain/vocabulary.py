"""The domain's closed vocabularies as plain Literal types: cheap to import (no pydantic models), so route modules can
name them in request models without loading the plan model at cold start."""
from __future__ import annotations

from typing import Literal

SETTINGS = ("inpatient", "outpatient", "special_outpatient")
Setting = Literal["inpatient", "outpatient", "special_outpatient"]
CATEGORIES = (
    "in_policy_after_catastrophic",
    "in_policy_below_catastrophic",
    "class_b_prepay",
    "restricted",
    "self_pay",
    "admission_list",
    "transfer_out",
    "negative_list",
)
Category = Literal[
    "in_policy_after_catastrophic", "in_policy_below_catastrophic", "class_b_prepay", "restricted", "self_pay",
    "admission_list", "transfer_out", "negative_list",
]
BasicType = Literal["employee", "resident"]
Relationship = Literal["spouse", "child", "parent", "sibling", "grandparent", "grandchild", "other"]
PaymentMethod = Literal["wechat_pay", "personal_account", "subsidy", "collective"]
LifeEventKind = Literal["newborn", "discharged_soldier", "household_moved_in", "released_from_prison"]
