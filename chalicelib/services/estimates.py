"""Claim estimates (试算): the benefit engine applied to bills a member types in, for a plan or for one of the
policies they may see. An estimate reads; it never changes any state.

- By plan (anonymous): the plan's coverage dates bound the service dates; the year-to-date state is zero unless the
  caller gives one (a what-if).
- By policy (the insured, the payer, or an account holding a `view`/`claims` authorisation; staff): the policy's
  benefit period [benefit_start, coverage_end], its year-to-date state, and the insured's basic-insurance suspensions
  as the 医保 platform reports them (DOMAIN §2.4, §4.5) — bills inside one, or inside the waiting period after
  restoration, are not covered.
- Raw hospital bills (DOMAIN §12) may stand beside slip bills in either variant: basic insurance and 大病 are
  simulated with the plan's city parameters (loaded on first use), from a zero or what-if layers state (nothing
  stores one: the layers belong to the 医保 bureau), then every bill goes through 惠民保.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.benefits import (
    BenefitPeriod,
    Bill,
    Estimate,
    ExcludedPeriod,
    YearToDate,
    compute,
)
from chalicelib.domain.enrolment_rules import add_months
from chalicelib.domain.errors import BadRequest, RuleViolation, Unauthorized
from chalicelib.domain.layers import (
    LayeredEstimate,
    LayersYearToDate,
    RawBill,
    estimate_with_layers,
    raw_bill_problem,
)
from chalicelib.domain.messages import MESSAGES, term
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson
from chalicelib.domain.policy import Policy

if TYPE_CHECKING:
    from chalicelib.adapters.repositories.accounts import AccountStore
    from chalicelib.adapters.repositories.grants import GrantRepository
    from chalicelib.adapters.repositories.policies import PolicyRepository

_POLICY_STATUS_TERMS = {"cancelled": "POLICY_STATUS_CANCELLED"}


@dataclass(frozen=True)
class EstimateOutcome:
    plan_id: str
    policy_id: str | None
    benefit_period: BenefitPeriod
    estimate: Estimate
    notes: list[str] = field(default_factory=list)
    layered: LayeredEstimate | None = None  # set when a bill is raw or a layers what-if state was given


@dataclass(frozen=True)
class EstimatePorts:
    """What an estimate for a policy needs (built by `deps.estimate_ports`): the access rule's repositories
    (services/access.AccessPorts) and the platform."""

    accounts: AccountStore
    policies: PolicyRepository
    grants: GrantRepository
    platform: Any  # the 医保 platform: the insured's basic-insurance suspensions
    cipher: Any


def estimate(ports_of: Callable[[], EstimatePorts], principal, *, plan_id: str | None, policy_id: str | None,
             year_to_date: YearToDate | None, bills: Sequence[Bill | RawBill],
             layers_year_to_date: LayersYearToDate | None = None) -> EstimateOutcome:
    """POST /v1/estimates: by policy when `policy_id` is given, else by plan. `ports_of` is called only for the
    policy variant: an anonymous estimate touches no storage (and builds no AWS client on a cold start)."""
    if policy_id is not None:
        if year_to_date is not None:
            raise BadRequest("ESTIMATE_YTD_WITH_POLICY", field="year_to_date")
        return estimate_for_policy(ports_of(), principal, policy_id, bills, plan_id=plan_id,
                                   layers_year_to_date=layers_year_to_date)
    if plan_id is None:
        raise BadRequest("ESTIMATE_PLAN_REQUIRED", field="plan_id")
    return estimate_for_plan(plan_id, bills, year_to_date, layers_year_to_date)


def estimate_for_plan(plan_id: str, bills: Sequence[Bill | RawBill], year_to_date: YearToDate | None = None,
                      layers_year_to_date: LayersYearToDate | None = None) -> EstimateOutcome:
    from chalicelib.plans import get_plan

    plan = get_plan(plan_id)
    _check_raw_bills(bills)
    period = BenefitPeriod(plan.coverage_start, plan.coverage_end, of="plan")
    notes = [MESSAGES["ESTIMATE_NOTE_ESTIMATE"],
             MESSAGES["ESTIMATE_NOTE_PLAN_PERIOD"].format(start=period.start.isoformat(), end=period.end.isoformat())]
    if year_to_date is not None:
        notes.append(MESSAGES["ESTIMATE_NOTE_WHAT_IF"])
    result, layered = _run(plan, year_to_date or YearToDate(), bills, period, (), layers_year_to_date, notes)
    return EstimateOutcome(plan.plan_id, None, period, result, notes, layered)


def _check_raw_bills(bills: Sequence[Bill | RawBill]) -> None:
    """Parts larger than their whole → 400 naming the field (before any storage is read)."""
    for i, bill in enumerate(bills):
        if isinstance(bill, RawBill):
            problem = raw_bill_problem(bill)
            if problem is not None:
                raise BadRequest(problem.code, field=f"bills.{i}.raw.{problem.field}", index=i + 1, **problem.details)


def _run(plan: Plan, ytd: YearToDate, bills: Sequence[Bill | RawBill], period: BenefitPeriod,
         excluded: Sequence[ExcludedPeriod], layers_ytd: LayersYearToDate | None,
         notes: list[str]) -> tuple[Estimate, LayeredEstimate | None]:
    """The slip path as it always was, unless a bill is raw or a layers state was given: then the chain."""
    raw = [i for i, b in enumerate(bills) if isinstance(b, RawBill)]
    if not raw and layers_ytd is None:
        return compute(plan.benefits, ytd, bills, period, excluded), None  # type: ignore[arg-type]
    city = _city_for(plan, bills, raw)
    layered = estimate_with_layers(plan.benefits, ytd, city, layers_ytd or LayersYearToDate(), bills, period,
                                   excluded)
    if raw:
        notes.append(MESSAGES["ESTIMATE_NOTE_RAW"])
        if any(b is not None and b.layers.illustrative for b in layered.layered):
            notes.append(MESSAGES["ESTIMATE_NOTE_RAW_ILLUSTRATIVE"].format(city=plan.city_name))
    if layers_ytd is not None:
        notes.append(MESSAGES["ESTIMATE_NOTE_LAYERS_WHAT_IF"])
    return layered.estimate, layered


def _city_for(plan: Plan, bills: Sequence[Bill | RawBill], raw: Sequence[int]):
    """The plan's city parameters, or a 4xx saying why a raw bill cannot be simulated there."""
    from chalicelib.domain.layers import basic_type_zh
    from chalicelib.plans.cities import city_insurance

    city = city_insurance(plan.city)
    if city is None:
        if raw:
            raise RuleViolation("ESTIMATE_RAW_CITY_UNSUPPORTED", field=f"bills.{raw[0]}.raw", city_name=plan.city_name)
        return None
    for i in raw:
        bill = bills[i]
        if city.basic_group(bill.basic_type) is None:  # type: ignore[union-attr]
            raise RuleViolation("ESTIMATE_RAW_BASIC_TYPE_UNKNOWN", field=f"bills.{i}.basic_type", index=i + 1,
                             basic_type=bill.basic_type, basic_type_zh=basic_type_zh(bill.basic_type),  # type: ignore[union-attr]
                             city_name=city.city_name, known="、".join(basic_type_zh(t) for t in city.basic_types))
    return city


def estimate_for_policy(ports: EstimatePorts, principal, policy_id: str, bills: Sequence[Bill | RawBill],
                        plan_id: str | None = None,
                        layers_year_to_date: LayersYearToDate | None = None) -> EstimateOutcome:
    from chalicelib.plans import get_plan
    from chalicelib.services.access import policy_for

    if principal is None:
        raise Unauthorized("TOKEN_MISSING")
    _check_raw_bills(bills)
    policy, _roles = policy_for(ports, principal, policy_id, need="view")
    if plan_id is not None and plan_id != policy.plan_id:
        raise BadRequest("ESTIMATE_PLAN_MISMATCH", field="plan_id", policy_id=policy_id,
                         policy_plan_id=policy.plan_id, plan_id=plan_id)
    if policy.status != "active":
        raise RuleViolation("ESTIMATE_POLICY_INACTIVE", status=policy.status,
                            status_zh=term(_POLICY_STATUS_TERMS.get(policy.status, "POLICY_STATUS_ENDED")))
    plan = get_plan(policy.plan_id)
    period = BenefitPeriod(date.fromisoformat(policy.benefit_start), date.fromisoformat(policy.coverage_end),
                           of="policy")
    ytd = YearToDate(deductible_used_fen=policy.ytd_deductible_used_fen, eligible_fen=policy.ytd_eligible_fen,
                     paid_fen=policy.ytd_paid_fen)
    notes = [MESSAGES["ESTIMATE_NOTE_ESTIMATE"],
             MESSAGES["ESTIMATE_NOTE_POLICY"].format(start=period.start.isoformat(), end=period.end.isoformat())]
    excluded = _suspensions_of_insured(ports, policy, plan, notes)
    result, layered = _run(plan, ytd, bills, period, excluded, layers_year_to_date, notes)
    return EstimateOutcome(plan.plan_id, policy_id, period, result, notes, layered)


def _suspensions_of_insured(ports: EstimatePorts, policy: Policy, plan: Plan,
                            notes: list[str]) -> list[ExcludedPeriod]:
    """For an estimate: if the platform cannot answer, the estimate goes ahead without suspensions and says so
    (an estimate is advice; the claim review checks again, strictly)."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    try:
        return insured_exclusions(ports.platform, ports.cipher, policy, plan)
    except (PlatformUnavailable, PlatformError):
        notes.append(MESSAGES["ESTIMATE_NOTE_SUSPENSIONS_UNKNOWN"])
        return []


def insured_exclusions(platform, cipher, policy: Policy, plan: Plan) -> list[ExcludedPeriod]:
    """The insured's periods without benefits (basic-insurance suspensions and the waiting after restoration), as
    the 医保 platform reports them now. Raises PlatformUnavailable / PlatformError when it cannot answer."""
    person = platform.find_person(cipher.decrypt(policy.insured_id_enc, "id_number"))
    return excluded_periods(person, plan) if person is not None else []


def excluded_periods(person: PlatformPerson, plan: Plan) -> list[ExcludedPeriod]:
    """DOMAIN §2.4 and §4.5: no benefits while basic insurance is suspended (`end` is its last suspended day), and,
    after it is restored (the day after), none until restoration + the plan's waiting months."""
    months = plan.waiting.basic_restored_waiting_months
    periods: list[ExcludedPeriod] = []
    for suspension in person.suspensions:
        periods.append(ExcludedPeriod(suspension.start, suspension.end,
                                      MESSAGES["ESTIMATE_EXCLUDED_BASIC_SUSPENDED"]))
        if suspension.end is not None and months:
            restored = suspension.end + timedelta(days=1)
            periods.append(ExcludedPeriod(restored, add_months(restored, months) - timedelta(days=1),
                                          MESSAGES["ESTIMATE_EXCLUDED_BASIC_RESTORED_WAITING"]))
    return periods
