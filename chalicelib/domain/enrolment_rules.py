"""Who may enrol (DOMAIN §2), how they may pay (§3) and when their benefits start (§4). Pure functions of their
inputs: the plan, what the 医保 platform says about the person, and dates passed in."""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import NamedTuple

from chalicelib.domain.errors import RuleViolation
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson

WAITING_RULES = ("in_window", "renewal", "first_year_grace", "late_six_months", "life_event", "basic_restored")


def add_months(day: date, months: int) -> date:
    """Same day of month `months` later; the last day of that month when the day does not exist (31 Aug + 6 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_plan_open(plan: Plan, today: date) -> None:
    """Sales are open from window_start to sales_end (plans without late enrolment close at window_end)."""
    if today < plan.window_start:
        raise RuleViolation("PLAN_NOT_OPEN", plan_id=plan.plan_id, window_start=plan.window_start.isoformat())
    last_day = plan.sales_end if plan.waiting.late_enrolment_allowed else plan.window_end
    if today > last_day:
        raise RuleViolation("PLAN_CLOSED", plan_id=plan.plan_id, last_day=last_day.isoformat())


def check_eligible(plan: Plan, person: PlatformPerson, who: str = "被保险人") -> None:
    """DOMAIN §2: basic insurance in the plan's city, an admitted type, active, not in an excluded programme.
    No condition on age, sex, occupation or health exists (and a plan cannot add one)."""
    if person.city != plan.city:
        raise RuleViolation("NOT_IN_PLAN_CITY", who=who, city_name=plan.city_name)
    if person.basic_type not in plan.eligibility.basic_types_admitted:
        raise RuleViolation("BASIC_TYPE_NOT_ADMITTED", who=who, basic_type=_BASIC_TYPE_ZH[person.basic_type],
                            plan_name=plan.name)
    if person.status == "terminated":  # death, or basic insurance moved to another city
        raise RuleViolation("BASIC_INSURANCE_ENDED", who=who)
    if person.status != "active":
        raise RuleViolation("BASIC_INSURANCE_SUSPENDED", who=who)
    excluded = sorted(set(plan.eligibility.excluded_programmes) & set(person.special_groups))
    if excluded:
        raise RuleViolation("EXCLUDED_PROGRAMME", who=who, programme="、".join(excluded))


_BASIC_TYPE_ZH = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险"}


class BenefitStart(NamedTuple):
    benefit_start: date
    waiting_rule: str


def benefit_start(plan: Plan, person: PlatformPerson, paid_on: date, renewal_without_gap: bool,
                  who: str = "被保险人") -> BenefitStart:
    """DOMAIN §4. Raises 422 BENEFITS_CANNOT_START when benefits could not start by coverage end (rule 7)."""
    w = plan.waiting
    if paid_on <= plan.window_end:  # rules 1 and 6
        result = BenefitStart(plan.coverage_start, "renewal" if renewal_without_gap and w.renewal_without_gap_from_start
                              else "in_window")
    elif not w.late_enrolment_allowed:
        raise RuleViolation("PLAN_CLOSED", plan_id=plan.plan_id, last_day=plan.window_end.isoformat())
    else:
        result = _late_start(plan, person, paid_on)
    # Rule 5: after basic insurance was restored, benefits wait restoration + N months; this postpones any rule.
    if person.restored_on is not None:
        restored_start = add_months(person.restored_on, w.basic_restored_waiting_months)
        if restored_start > result.benefit_start:
            result = BenefitStart(restored_start, "basic_restored")
    if result.benefit_start > plan.coverage_end:  # rule 7
        raise RuleViolation("BENEFITS_CANNOT_START", who=who, benefit_start=result.benefit_start.isoformat(),
                            coverage_end=plan.coverage_end.isoformat())
    return result


def _late_start(plan: Plan, person: PlatformPerson, paid_on: date) -> BenefitStart:
    w = plan.waiting
    limits = {rule.kind: rule.max_days_after for rule in w.life_events}
    for event in person.life_events:  # rule 4
        limit = limits.get(event.kind)
        if limit is not None and event.date <= paid_on <= event.date + timedelta(days=limit):
            start = max(person.basic_start or paid_on, plan.coverage_start)
            return BenefitStart(start, "life_event")
    if plan.first_operating_year and w.first_year_grace and w.first_year_grace.contains(paid_on):  # rule 2
        return BenefitStart(max(paid_on + timedelta(days=1), plan.coverage_start), "first_year_grace")
    return BenefitStart(max(add_months(paid_on, w.late_waiting_months), plan.coverage_start), "late_six_months")


def payment_methods_for(plan: Plan, payer: PlatformPerson | None, insured: PlatformPerson,
                        relationship: str | None) -> list[str]:
    """How a member could pay for `insured` (relationship None = self). DOMAIN §3."""
    methods = []
    if "wechat_pay" in plan.payment_methods:
        methods.append("wechat_pay")
    rule = plan.personal_account
    if rule is None or payer is None or payer.basic_type != "employee" or payer.city != plan.city:
        return methods
    if relationship is None:
        if rule.self_from_current_balance:
            methods.append("personal_account")
    elif (rule.relatives_from_prior_years and relationship in rule.relationships_allowed
          and (not rule.same_city_required or insured.city == plan.city)):
        methods.append("personal_account")
    return methods


def check_personal_account_allowed(plan: Plan, payer: PlatformPerson | None, insured: PlatformPerson,
                                   relationship: str | None, who: str) -> str:
    """The account part to deduct from ('current' for self, 'prior_years' for relatives) or 422 with the reason."""
    rule = plan.personal_account
    if rule is None:
        raise RuleViolation("PAYMENT_METHOD_NOT_OFFERED", method="医保个人账户", plan_name=plan.name)
    if payer is None or payer.basic_type != "employee":
        raise RuleViolation("NO_PERSONAL_ACCOUNT")
    if payer.city != plan.city:
        raise RuleViolation("PERSONAL_ACCOUNT_OTHER_CITY", city_name=plan.city_name)
    if relationship is None:
        if not rule.self_from_current_balance:
            raise RuleViolation("PAYMENT_METHOD_NOT_OFFERED", method="医保个人账户", plan_name=plan.name)
        return "current"
    if not rule.relatives_from_prior_years or relationship not in rule.relationships_allowed:
        raise RuleViolation("RELATIONSHIP_NOT_ALLOWED", who=who, relationship=RELATIONSHIP_ZH.get(relationship, relationship))
    if rule.same_city_required and insured.city != plan.city:
        raise RuleViolation("NOT_IN_PLAN_CITY", who=who, city_name=plan.city_name)
    return "prior_years"


RELATIONSHIP_ZH = {"spouse": "配偶", "child": "子女", "parent": "父母", "sibling": "兄弟姐妹", "grandparent": "祖父母/外祖父母",
                   "grandchild": "孙子女/外孙子女", "other": "其他"}


def covered_on(policy_benefit_start: date, coverage_end: date, suspensions, day: date) -> tuple[bool, str | None]:
    """Whether a service date is inside the benefit period and outside any basic-insurance suspension (§2.4, §4.8)."""
    if day < policy_benefit_start:
        return False, "before_benefit_start"
    if day > coverage_end:
        return False, "after_coverage_end"
    for period in suspensions:
        if period.start <= day and (period.end is None or day <= period.end):
            return False, "basic_suspended"
    return True, None
